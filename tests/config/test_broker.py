"""The development broker writes each message atomically (config.broker)."""

from __future__ import annotations

from pathlib import Path

from kombu import Connection

from config.broker import Transport


def connect(folder: Path) -> Connection:
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    return Connection("filesystem://", transport_options=options)


def test_the_filesystem_alias_uses_the_atomic_transport(tmp_path: Path) -> None:
    with connect(tmp_path) as connection:
        assert isinstance(connection.transport, Transport)


def test_messages_round_trip_and_leave_no_partial_file(tmp_path: Path) -> None:
    with connect(tmp_path) as connection:
        queue = connection.SimpleQueue("io")
        queue.put({"job": "1"})
        assert [path.suffix for path in tmp_path.iterdir() if path.is_file()] == [".msg"]
        # The message is there: get answers at once. The spare seconds are for a busy machine,
        # where the transport's first poll can come later than a second (it did, in CI).
        assert queue.get(timeout=10).payload == {"job": "1"}
        queue.close()


def test_a_message_still_being_written_is_not_taken(tmp_path: Path) -> None:
    (tmp_path / "1_x.io.msg.partial").write_bytes(b'{"half')
    with connect(tmp_path) as connection:
        queue = connection.SimpleQueue("io")
        try:
            queue.get(block=False)
        except queue.Empty:
            pass
        else:
            raise AssertionError("a partial message was read")
        queue.close()
