"""The enhancement tables, in the same SQLite file as the controller's state."""

from __future__ import annotations

from pathlib import Path

from reconciler.enhancement import EnhancementStore, ResultRecord
from reconciler.store import Store
from reconciler.store.records import Capability, InventoryRecord


def record(key: str, tool: str, **fields: object) -> ResultRecord:
    values: dict[str, object] = {
        "key": key,
        "server": "time",
        "tool": tool,
        "schema_hash": "h-" + tool,
        "style": "concise",
        "prompt_version": "1",
        "status": "enhanced",
        "description": f"{tool} text",
        "metadata": {"keywords": [tool]},
    }
    values.update(fields)
    return ResultRecord(**values)  # type: ignore[arg-type]


def test_enhancement_tables_live_beside_the_controllers(tmp_path: Path) -> None:
    with EnhancementStore(tmp_path / "state.db") as enhancements:
        enhancements.put(record("k1", "get_current_time"))
    with Store.open(tmp_path) as controller:  # migrates its own tables in the same file
        controller.put_instance(InventoryRecord(server="default/time", phase="Ready"))
        controller.replace_capabilities("default/time", "tool", [Capability("get_current_time")])
        version = controller.schema_version
    with EnhancementStore(tmp_path / "state.db") as enhancements:
        assert enhancements.results(["k1"])["k1"].description == "get_current_time text"
    with Store.open_readonly(tmp_path) as controller:
        assert controller.schema_version == version
        assert [c.name for c in controller.capabilities(kind="tool")] == ["get_current_time"]


def test_a_result_keeps_when_it_was_first_written(tmp_path: Path) -> None:
    with EnhancementStore(tmp_path / "state.db") as store:
        store.put(record("k1", "a", status="failed", reason="OutputRejected", attempts=1))
        first = store.results(["k1"])["k1"]
        store.put(record("k1", "a", description="better"))
        second = store.results(["k1", "missing"])
    assert list(second) == ["k1"]
    assert second["k1"].status == "enhanced"
    assert second["k1"].created_at == first.created_at
    assert second["k1"].updated_at >= first.updated_at


def test_latest_gives_the_newest_result_of_each_tool(tmp_path: Path) -> None:
    with EnhancementStore(tmp_path / "state.db") as store:
        store.put(record("old", "a", description="old text"))
        store.put(record("new", "a", description="new text"))
        store.put(record("b1", "b"))
        latest = store.latest()
        assert [(r.tool, r.description) for r in latest] == [("a", "new text"), ("b", "b text")]
        assert store.latest(server="other") == []
        assert store.lookup("time", "a", "h-a") is not None
        assert store.lookup("time", "a", "other-hash") is None


def test_usage_adds_up_per_provider_server_and_day(tmp_path: Path) -> None:
    with EnhancementStore(tmp_path / "state.db") as store:
        store.record_usage("openai", "time", day="2025-03-31", input_tokens=10, cost=1.0)
        store.record_usage("openai", "time", day="2025-04-01", input_tokens=10, cost=0.5)
        store.record_usage("openai", "time", day="2025-04-01", output_tokens=5, cost=0.25)
        store.record_usage("openai", "fetch", day="2025-04-02", failed_calls=1)
        store.record_usage("local", "time", day="2025-04-01", cost=9.0)
        assert store.spent("openai", since_day="2025-04-01", until_day="2025-04-01") == 0.75
        assert store.spent("openai", since_day="2025-04-01") == 0.75
        assert store.spent("openai", since_day="2025-03-01") == 1.75
        rows = store.usage(provider="openai", since_day="2025-04-01")
    assert [(r.server, r.day, r.calls, r.failed_calls) for r in rows] == [
        ("time", "2025-04-01", 2, 0),
        ("fetch", "2025-04-02", 1, 1),
    ]
    assert (rows[0].input_tokens, rows[0].output_tokens, rows[0].cost) == (10, 5, 0.75)
