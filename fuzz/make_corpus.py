#!/usr/bin/env python3
"""Write the seed corpus of fuzz/fuzz_api.c into fuzz/corpus/.

A few hand-written scripts, one per feature, then scripts drawn from a
fixed-seed PRNG, so that the corpus is the same on every run. libFuzzer
grows its own corpus from these; a long run's findings can be merged back
with `fuzz_api -merge=1 fuzz/corpus NEW_DIR`.

Opcodes (see the comment at the top of fuzz_api.c):
  0 kind slot | 1 slot wake | 2 slot abort | 3 slot ms join | 4 ms sleep
  5 v try_send | 6 try_recv | 7 slot blocking | 8 slot detach | 9 yield
  10 slot oneshot send | 11 close channel | 12 end
Task kinds: 0 wait, 1 sleep, 2 send, 3 oneshot, 4 yield, 5 fail.
"""
import pathlib
import random

OUT = pathlib.Path(__file__).resolve().parent / "corpus"

HAND = {
    "spawn-join-each-kind": [0, 0, 0, 0, 1, 1, 0, 2, 2, 0, 3, 3, 0, 4, 4,
                             0, 5, 5, 1, 0, 10, 3, 3, 0, 40, 3, 1, 40,
                             3, 2, 40, 3, 3, 40, 3, 4, 40, 3, 5, 40],
    "wake-then-join": [0, 0, 1, 1, 1, 3, 1, 10],
    "abort-waiting": [0, 0, 2, 2, 2, 3, 2, 10],
    "abort-sleeping": [0, 1, 6, 2, 6, 3, 6, 60],
    "abort-finished": [0, 4, 1, 3, 1, 30, 2, 1, 3, 1, 30],
    "join-timeout": [0, 0, 0, 3, 0, 5, 12],
    "sleep-main": [4, 1, 4, 20, 4, 63, 4, 0],
    "channel-fill-drain": [5, 1, 5, 2, 5, 3, 5, 4, 5, 5, 6, 6, 6, 6, 6, 6],
    "channel-close": [5, 1, 11, 5, 2, 6, 6, 6],
    "send-tasks-full": [0, 2, 0, 0, 2, 1, 0, 2, 2, 0, 2, 3, 0, 2, 4,
                        0, 2, 5, 9, 9, 6, 6, 9, 3, 5, 10],
    "send-then-close": [0, 2, 1, 5, 1, 5, 1, 5, 1, 5, 1, 11, 3, 1, 10],
    "oneshot-send": [0, 3, 4, 10, 4, 3, 4, 10],
    "oneshot-dropped": [0, 3, 4, 8, 4, 9, 9],
    "oneshot-slot-reused": [0, 3, 4, 0, 1, 4, 3, 4, 20],
    "blocking-join": [7, 0, 3, 0, 63, 7, 1, 3, 1, 63],
    "blocking-abort": [7, 3, 2, 3, 3, 3, 10],
    "blocking-detach": [7, 2, 8, 2, 7, 2, 12],
    "blocking-at-shutdown": [7, 0, 7, 1, 7, 2, 7, 3, 12],
    "yield-many": [0, 4, 0, 0, 4, 1, 9, 9, 9, 9, 3, 0, 1],
    "fail-join": [0, 5, 7, 3, 7, 1],
    "fail-abort": [0, 5, 7, 2, 7, 3, 7, 1],
    "detach-waiting": [0, 0, 3, 8, 3, 1, 3, 9],
    "shutdown-with-everything": [0, 0, 0, 0, 1, 1, 0, 2, 2, 0, 3, 3,
                                 7, 4, 0, 4, 5, 12, 3, 0, 1],
    "slot-reuse": [0, 0, 1, 0, 1, 1, 0, 2, 1, 0, 3, 1, 0, 4, 1, 3, 1, 20],
    "wake-twice": [0, 0, 6, 1, 6, 1, 6, 3, 6, 1],
    "empty-ops": [12],
    "all-opcodes": list(range(13)),
}


def random_script(rng: random.Random, n: int) -> bytes:
    out = []
    for _ in range(n):
        op = rng.randrange(13)
        out.append(op)
        if op == 0:
            out += [rng.randrange(6), rng.randrange(8)]
        elif op in (1, 2, 7, 8, 10):
            out.append(rng.randrange(8))
        elif op == 3:
            out += [rng.randrange(8), rng.randrange(64)]
        elif op in (4, 5):
            out.append(rng.randrange(64))
    return bytes(out)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, ops in HAND.items():
        (OUT / f"{name}.bin").write_bytes(bytes(ops))
    rng = random.Random(20261126)
    for i in range(16):
        (OUT / f"random-{i:02d}.bin").write_bytes(
            random_script(rng, 8 + 4 * i))
    print(f"{len(HAND) + 16} files in {OUT}")


if __name__ == "__main__":
    main()
