#!/usr/bin/python3
"""echo_server.py: the asyncio and uvloop echo servers of bench/run-echo.sh.

    echo_server.py asyncio|uvloop PORT

A TCP echo server on 127.0.0.1:PORT: an asyncio.Protocol whose
data_received() writes back what it got, on asyncio's default selector
loop (epoll) or on uvloop.  SIGTERM or SIGINT stops it.  Exit status 3 when
the loop asked for cannot be imported (uvloop is often not installed; on
Debian: apt-get install python3-uvloop, and run /usr/bin/python3).
"""
import asyncio
import signal
import sys

NOT_AVAILABLE = 3


def loop_factory(name):
    """A callable that makes a new loop of the named kind."""
    if name == "asyncio":
        return asyncio.SelectorEventLoop
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            print("echo_server: uvloop is not importable by %s" %
                  sys.executable, file=sys.stderr)
            sys.exit(NOT_AVAILABLE)
        return uvloop.new_event_loop
    sys.exit("echo_server: unknown loop %r: use asyncio or uvloop" % name)


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def serve(port):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(Echo, "127.0.0.1", port, backlog=1024)
    print("echo_server: %s loop on 127.0.0.1:%d" %
          (type(loop).__module__, port), file=sys.stderr)
    async with server:
        await stop.wait()


def main():
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        sys.exit(__doc__)
    with asyncio.Runner(loop_factory=loop_factory(sys.argv[1])) as runner:
        runner.run(serve(int(sys.argv[2])))


if __name__ == "__main__":
    main()
