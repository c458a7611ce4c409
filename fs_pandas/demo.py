"""A guided run against the embedded emulator: ``fs-pandas demo`` (the README's first command).

It builds a small customer frame with a few deliberate mistakes, shows what would be sent,
enriches the users through real batch jobs on a local Fullstory emulator, exports the errors,
fixes and retries them, then sends events. Nothing leaves this machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fs_pandas.client import Client
from fs_pandas.run.result import BatchResult

__all__ = ["customer_frame", "event_frame", "run_demo"]


def customer_frame(rows: int = 2_000, *, seed: int = 7) -> pd.DataFrame:
    """Customers with plans, spend, signup dates... and a few deliberate mistakes."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user_id": [f"cust-{i:05d}" for i in range(rows)],
            "name": [f"Customer {i}" for i in range(rows)],
            "email": [f"customer{i}@example.com" for i in range(rows)],
            "plan": pd.Categorical(rng.choice(["free", "team", "enterprise"], rows)),
            "seats": rng.integers(1, 500, rows),
            "total_spent": rng.gamma(2.0, 150.0, rows).round(2),
            "churn_risk": rng.random(rows) < 0.1,
            "signed_up": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 600, rows), unit="D"),
        }
    )
    frame.loc[3, "total_spent"] = np.nan  # a missing value: the property is left out
    frame.loc[5, "user_id"] = "cust-00004"  # a duplicate uid: rejected, never sent twice
    frame.loc[8, "user_id"] = None  # no uid: rejected
    frame.loc[13, "email"] = "x" * 130 + "@example.com"  # longer than Fullstory's 128
    return frame


def event_frame(customers: pd.DataFrame, *, seed: int = 11) -> pd.DataFrame:
    """A few purchase events for the customers."""
    rng = np.random.default_rng(seed)
    uids = customers["user_id"].dropna().to_numpy()
    picks = rng.choice(uids, 500)
    return pd.DataFrame(
        {
            "user_id": picks,
            "event": rng.choice(["Order Placed", "Seat Added"], len(picks)),
            "ts": pd.Timestamp("2025-06-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 86_400 * 30, len(picks)), unit="s"),
            "amount": rng.gamma(2.0, 40.0, len(picks)).round(2),
        }
    )


def run_demo(*, out_dir: Path | None = None) -> int:
    """Run the walk-through, printing as it goes; returns 0 when it ends as expected."""
    from fs_pandas.emulator import Faults, serve

    out = out_dir or Path(tempfile.mkdtemp(prefix="fs_pandas_demo_"))
    with serve(processing_seconds=0.3) as emu:
        print(f"Local Fullstory emulator at {emu.url}\n")
        client = Client(api_key=emu.api_key, base_url=emu.url)
        customers = customer_frame()
        print("1. What would be sent, column by column:")
        print(
            customers.fullstory.type_plan(
                uid_col="user_id", display_name_col="name", email_col="email"
            ).to_string(index=False),
            "\n",
        )
        print("2. Rows that would be rejected before sending:")
        print(
            customers.fullstory.validate(
                uid_col="user_id", display_name_col="name", email_col="email"
            )[["user_id", "fs_rule"]],
            "\n",
        )
        # The emulator refuses two users at the server, as Fullstory would for bad data it
        # alone can judge, so the run ends in a partial success.
        emu.configure(
            fail_uids={"cust-00042", "cust-01234"}, faults=Faults(row_error_code="demo_refused")
        )
        print("3. batch_update, 500 rows per job:")
        result = customers.fullstory.batch_update(
            uid_col="user_id",
            display_name_col="name",
            email_col="email",
            client=client,
            chunk_size=500,
            poll_interval=0.1,
            progress="text",
            ledger_dir=out / "runs",
        )
        assert isinstance(result, BatchResult)
        print(repr(result), "\n")
        errors_path = out / "errors.parquet"
        result.errors.to_parquet(errors_path)
        print(f"4. {len(result.errors)} failed rows written to {errors_path}")
        emu.configure(fail_uids=set())
        retried = result.retry_failed()
        print(f"   retried them: {retried.counts}\n")
        users_ok = result.counts["imported"] + retried.counts["imported"] == len(emu.users())
        print("5. batch_events:")
        events = event_frame(customers)
        sent = events.fullstory.batch_events(
            name_col="event",
            uid_col="user_id",
            timestamp_col="ts",
            client=client,
            poll_interval=0.1,
            progress="text",
            ledger_dir=out / "runs",
        )
        assert isinstance(sent, BatchResult)
        print(repr(sent))
        users = len(emu.users())
        imported = result.counts["imported"] + retried.counts["imported"]
        print(f"\nThe emulator now holds {users:,} users and {len(emu.events()):,} events.")
        if users > imported:
            # Fullstory does the same: an event for an unknown uid creates its user, and here
            # a customer whose user row was rejected (email too long) has events.
            print(
                f"   {users - imported} more user(s) than imported: an event for a uid Fullstory "
                "does not know yet creates that user."
            )
        print(
            "\nNext: notebooks/quickstart.ipynb walks through the same steps with a progress bar;"
            "\ndocs/getting-started.md shows how to push your own frame to your own account."
        )
        return 0 if users_ok and sent.finished else 1
