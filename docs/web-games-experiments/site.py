"""The experiments' site on 127.0.0.1 (prints its port): /set?who=NAME sets a persistent cookie, /session a session cookie, /sw.js a service worker, /frame an iframe page."""
# A tiny site for the experiment: sets a persistent cookie, serves a page, a service worker, an iframe page.
import http.server, sys, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/sw.js"):
            body, ctype = b"self.addEventListener('fetch', () => {});", "text/javascript"
        elif self.path.startswith("/frame"):
            body, ctype = b"<p>frame</p>", "text/html"
        else:
            body = b"""<!doctype html><title>exp</title><p id=who></p>
<script>
document.getElementById('who').textContent = document.cookie;
</script>"""
            ctype = "text/html"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if self.path.startswith("/set"):
            name = self.path.split("=")[1]
            self.send_header("Set-Cookie", "who=%s; Path=/; Max-Age=3600; HttpOnly" % name)
        if self.path.startswith("/session"):
            self.send_header("Set-Cookie", "sess=1; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_port, flush=True)
s.serve_forever()
