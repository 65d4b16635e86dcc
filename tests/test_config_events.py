"""`[events]`: defaults, and a wrong value refused with its key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config
from agent.errors import ConfigError


def test_events_defaults_and_wrong_values_name_their_key(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text("")
    events = load_config(path).events
    assert (events.revenue, events.model, events.order_delivery) == ("payment", "actions",
                                                                      "collect")  # fmt: skip
    for line, key in (
        ('model = "pedidos"', "events.model"),
        ('revenue = "both"', "events.revenue"),
        ('order_delivery = "pickup"', "events.order_delivery"),
        ('coupon_pattern = "CUP-("', "events.coupon_pattern"),
        ('coupon_url = "https://x.example/{promo}"', "events.coupon_url"),
    ):
        path.write_text(f"[events]\n{line}\n")
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert key in str(caught.value), line
    path.write_text('[events]\nmodel = "orders"\nrevenue = "products"\n')
    events = load_config(path).events
    assert (events.model, events.revenue) == ("orders", "products")
