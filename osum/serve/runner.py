"""Running a server: the HTTP side (uvicorn) in a thread, the decoding in the main thread.

On a CPU, PyTorch decodes about twice as fast in the process's main thread as in another
one (its OpenMP threads; measured on 2 cores), so the engine decodes in the main thread
and uvicorn serves from a thread of its own. SIGINT and SIGTERM stop uvicorn gracefully
(requests under way are answered, then the app's shutdown closes the engine), which ends
the decoding loop.
"""

import logging
import signal
import threading
import time

import uvicorn

from osum.decode.engine import Engine

logger = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # seconds uvicorn may take to listen


def serve(app, engine: Engine, host: str, port: int, log_level: str = "info") -> None:
    """Serves ``app`` on ``host:port`` until a signal, decoding with ``engine`` (not
    started) in the calling thread. OSError when uvicorn cannot listen."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    http = threading.Thread(target=server.run, name="osum-http", daemon=True)

    def stop(signum, frame):
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        http.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not http.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise OSError(f"could not serve on {host}:{port} (in use? see the log above)")
            time.sleep(0.05)

        def closer():  # uvicorn gone for any reason: the decoding stops too
            http.join()
            engine.close()

        threading.Thread(target=closer, name="osum-closer", daemon=True).start()
        engine.run()
        http.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
