"""window.open answered with a related view (opener kept) or an unrelated one (WebKit aborts). Usage: xvfb-run -a /usr/bin/python3 webkit_popups.py PORT EMPTY_DIR related|unrelated"""
import gi, os, sys, time
gi.require_version("Gtk", "3.0"); gi.require_version("WebKit2", "4.1")
from gi.repository import Gtk, WebKit2
port, d = sys.argv[1], sys.argv[2]
base = "http://127.0.0.1:%s" % port
def ctx_for(p):
    m = WebKit2.WebsiteDataManager(base_data_directory=p, base_cache_directory=p)
    m.get_cookie_manager().set_persistent_storage(os.path.join(p, "cookies"), WebKit2.CookiePersistentStorage.TEXT)
    return WebKit2.WebContext(website_data_manager=m)
ctx = ctx_for(d + "/A")
def wait(pred, t=10):
    end = time.time() + t
    while not pred() and time.time() < end: Gtk.main_iteration_do(False)
    return pred()
def load(v, url):
    done = {"d": False}
    h = v.connect("load-changed", lambda v, e: e == WebKit2.LoadEvent.FINISHED and done.__setitem__("d", True))
    v.load_uri(url); wait(lambda: done["d"]); v.disconnect(h)
def js(v, code):
    res = {}
    def cb(v, r):
        try:
            val = v.evaluate_javascript_finish(r); res["v"] = val.to_json(0) if val else None
        except Exception as e: res["v"] = "ERR " + str(e)
    v.evaluate_javascript(code, -1, None, None, None, cb); wait(lambda: "v" in res); return res.get("v")
w = Gtk.Window(); v = WebKit2.WebView(web_context=ctx); w.add(v); w.show_all()
load(v, base + "/set?who=main")
popups = []
mode = sys.argv[3]
def create(view, action):
    if mode == "related":
        p = WebKit2.WebView(related_view=view)
    else:
        p = WebKit2.WebView(web_context=ctx)  # same context, not related
    pw = Gtk.Window(); pw.add(p); pw.show_all(); popups.append(p)
    return p
v.connect("create", create)
print(mode, "window.open returned:", js(v, "window.popup = window.open('/frame', 'p'); String(window.popup !== null)"))
wait(lambda: popups and popups[0].get_uri(), 5); time.sleep(0.5); wait(lambda: False, 1)
if popups:
    p = popups[0]
    print(mode, "popup uri:", p.get_uri(), " popup sees opener:", js(p, "String(window.opener !== null)"),
          " same web process:", p.get_context() == v.get_context(), " popup's cookie jar has main:", js(p, "fetch('/').then(r=>r.text()).then(t=>t.length)") is not None)
    print(mode, "opener can reach popup document:", js(v, "try { String(window.popup.document.body.textContent) } catch (e) { 'ERR ' + e }"))
