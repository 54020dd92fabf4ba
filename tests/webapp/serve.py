"""Serves one Roundup tracker on loopback for Kage's tests (tests/webapp, kage-webapp-support).

Usage: serve.py TRACKER_HOME PORT   (PORT 0: any free port)

Roundup is served through its own WSGI front end (roundup.cgi.wsgi_handler, the one its documentation gives for
mod_wsgi and gunicorn) by the standard library's wsgiref server, one thread per request, rather than by
roundup-server: roundup-server refuses to run as root (as CI does) unless told to switch to another user, and
forks a process per request by default. Here the listening socket is bound first, so port 0 gets a free port with
no race; the tracker's `web` URL (which Roundup checks a sign-in's Origin and Referer against) is then set to it.

Prints `listening on http://127.0.0.1:PORT/` once it answers, and exits when its standard input closes, so a
test that dies (even by SIGKILL) leaves no server behind. KAGE_WEBAPP_LOG=1 logs each request to stderr.
"""

import os
import socketserver
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Handler(WSGIRequestHandler):
    def log_message(self, format, *args):
        if os.environ.get("KAGE_WEBAPP_LOG"):
            super().log_message(format, *args)


def exit_when_stdin_closes():
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


def main():
    home, port = sys.argv[1], int(sys.argv[2])
    httpd = make_server("127.0.0.1", port, None, server_class=ThreadingServer, handler_class=Handler)
    url = "http://127.0.0.1:%d/" % httpd.server_port

    from roundup.configuration import CoreConfig

    config = CoreConfig(home)
    config["TRACKER_WEB"] = url
    config.save()

    from roundup.cgi.wsgi_handler import RequestDispatcher

    # One tracker instance for every request (Roundup's recommended WSGI setting).
    httpd.set_app(RequestDispatcher(home, feature_flags={"cache_tracker": ""}))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print("listening on " + url, flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
