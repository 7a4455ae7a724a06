#!/usr/bin/python3
"""exec_asyncio.py: the asyncio peer of the executor benchmark (run-exec.sh).

    exec_asyncio.py THREADS INFLIGHT SECONDS [WORK_NS]

INFLIGHT coroutines each await loop.run_in_executor() of a function that
spins WORK_NS (default 1000) on a ThreadPoolExecutor of THREADS threads,
again and again, for SECONDS.  Prints the line exec-raw prints:

    impl=asyncio threads= inflight= work_ns= secs= jobs= jobs_s=
"""
import asyncio
import concurrent.futures
import sys
import time


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    try:
        threads, inflight = int(sys.argv[1]), int(sys.argv[2])
        secs = float(sys.argv[3])
        work_ns = int(sys.argv[4]) if len(sys.argv) == 5 else 1000
    except ValueError:
        sys.exit(__doc__)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads)
    n, stop = 0, False

    def work():
        end = time.perf_counter_ns() + work_ns
        while time.perf_counter_ns() < end:
            pass

    async def client(loop):
        nonlocal n
        while not stop:
            await loop.run_in_executor(pool, work)
            if not stop:
                n += 1

    async def run():
        nonlocal stop
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        tasks = [loop.create_task(client(loop)) for _ in range(inflight)]
        await asyncio.sleep(secs)
        stop = True
        el, done = time.monotonic() - t0, n
        await asyncio.gather(*tasks)
        return el, done

    el, done = asyncio.run(run())
    pool.shutdown(wait=True)
    print(f"impl=asyncio threads={threads} inflight={inflight} "
          f"work_ns={work_ns} secs={el:.2f} jobs={done} "
          f"jobs_s={done / el:.0f}")


if __name__ == "__main__":
    main()
