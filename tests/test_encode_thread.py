"""EncodeThread: frames are encoded in order on its thread, its errors reach the caller, and
stopping never hangs."""
import threading
import time

import pytest

from codecstyle.video import encode_thread
from codecstyle.video.encode_thread import EncodeThread


def test_items_are_encoded_in_order_on_another_thread():
    seen, threads = [], set()

    def encode(item):
        threads.add(threading.get_ident())
        seen.append(item)

    worker = EncodeThread(encode)
    for i in range(50):
        worker.put(i)
    worker.finish()
    assert seen == list(range(50))
    assert threads and threading.get_ident() not in threads


def test_an_encoder_error_is_raised_by_the_caller():
    def encode(item):
        if item == 3:
            raise ValueError("encoder broke")

    worker = EncodeThread(encode)
    with pytest.raises(ValueError, match="encoder broke"):
        for i in range(100):  # a put after the failure raises it, at the latest finish() does
            worker.put(i)
        worker.finish()


def test_a_full_queue_waits_for_the_encoder():
    done = []

    def encode(item):
        time.sleep(0.02)
        done.append(item)

    worker = EncodeThread(encode)
    for i in range(encode_thread.QUEUE_FRAMES + 4):
        worker.put(i)
        assert i - len(done) <= encode_thread.QUEUE_FRAMES + 1  # bounded: never far ahead
    worker.finish()
    assert len(done) == encode_thread.QUEUE_FRAMES + 4


def test_stop_drops_queued_items_and_returns():
    release = threading.Event()
    done = []

    def encode(item):
        release.wait(5)
        done.append(item)

    worker = EncodeThread(encode)
    for i in range(encode_thread.QUEUE_FRAMES):
        worker.put(i)
    threading.Timer(0.2, release.set).start()  # the first item finishes while stop() drains
    start = time.perf_counter()
    worker.stop()
    assert time.perf_counter() - start < 2
    assert len(done) < encode_thread.QUEUE_FRAMES  # what was still queued was dropped
