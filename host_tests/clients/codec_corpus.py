"""Validate a corpus of payloads with protocol.codec under MicroPython (or CPython).

    micropython host_tests/clients/codec_corpus.py build/codec_corpus.jsonl

Each input line is JSON [index, action, is_request, payload]; each output
line is "index OK" or "index <code> <description>". Streams line by line so
it runs in a small heap. Written by host_tests/test_codec_schemas.py.
"""
import sys

sys.path.insert(0, "firmware")

import json  # noqa: E402
from protocol import codec  # noqa: E402


def main(path):
    n = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            i, action, req, payload = json.loads(line)
            try:
                codec.validate(action, req, payload)
                print(i, "OK")
            except codec.CallError as e:
                print(i, e.code, e.description)
            n += 1
    print("done", n)


main(sys.argv[1])
