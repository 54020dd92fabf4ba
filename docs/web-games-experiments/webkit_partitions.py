"""Two WebKitGTK partitions built as wry 0.55 builds them: network processes, shared cookies and storage, files on disk, iframes in decide-policy, notifications, clear(ALL), proxy per data manager. Usage (docs/web-games-notes.md, section 10): python3 site.py; xvfb-run -a dbus-run-session -- /usr/bin/python3 webkit_partitions.py PORT EMPTY_DIR"""
import gi, os, sys, subprocess, json, time
gi.require_version("Gtk", "3.0"); gi.require_version("WebKit2", "4.1")
from gi.repository import Gtk, WebKit2, GLib
port = sys.argv[1]; root = sys.argv[2]
base = "http://127.0.0.1:%s" % port
print("WebKitGTK", WebKit2.get_major_version(), WebKit2.get_minor_version(), WebKit2.get_micro_version())

def context_for(d):
    # as wry 0.55.1 src/webkitgtk/web_context.rs WebContextImpl::new
    m = WebKit2.WebsiteDataManager(base_data_directory=d, base_cache_directory=d)
    m.get_cookie_manager().set_persistent_storage(os.path.join(d, "cookies"), WebKit2.CookiePersistentStorage.TEXT)
    return WebKit2.WebContext(website_data_manager=m)

log = []
def net_procs():
    out = subprocess.run(["pgrep", "-f", "-P", str(os.getpid()), "WebKitNetworkProcess"], capture_output=True, text=True).stdout.split()
    return len(out)

def view(ctx, related=None):
    w = Gtk.Window(); v = WebKit2.WebView(related_view=related) if related else WebKit2.WebView(web_context=ctx)
    w.add(v); w.show_all(); return w, v

def wait(pred, timeout=15):
    end = time.time() + timeout
    while not pred() and time.time() < end:
        Gtk.main_iteration_do(False)
    return pred()

def load(v, url):
    done = {"d": False}
    h = v.connect("load-changed", lambda v, e: e == WebKit2.LoadEvent.FINISHED and done.__setitem__("d", True))
    v.load_uri(url); wait(lambda: done["d"]); v.disconnect(h)

def js(v, code):
    res = {}
    def cb(v, r):
        try:
            val = v.evaluate_javascript_finish(r)
            res["v"] = val.to_json(0) if val else None
        except Exception as e:
            res["v"] = "ERR " + str(e)
    v.evaluate_javascript(code, -1, None, None, None, cb)
    wait(lambda: "v" in res)
    return res.get("v")

def js_async(v, body):
    res = {}
    def cb(v, r):
        try:
            val = v.call_async_javascript_function_finish(r)
            res["v"] = val.to_json(0) if val else None
        except Exception as e:
            res["v"] = "ERR " + str(e)
    v.call_async_javascript_function(body, -1, None, None, None, None, cb)
    wait(lambda: "v" in res)
    return res.get("v")

A, B = os.path.join(root, "A"), os.path.join(root, "B")
os.makedirs(A, mode=0o700); os.makedirs(B, mode=0o700)
ctxA, ctxB = context_for(A), context_for(B)
wA1, vA1 = view(ctxA); load(vA1, base + "/set?who=main")
wA2, vA2 = view(ctxA); load(vA2, base + "/")
wB1, vB1 = view(ctxB); load(vB1, base + "/set?who=alt")
time.sleep(0.5)
print("network processes, 2 contexts / 3 views:", net_procs())
# HttpOnly: read through a non-HttpOnly echo: the page shows document.cookie (HttpOnly hidden); use cookie manager.
def cookies(ctx):
    res = {}
    ctx.get_website_data_manager().get_cookie_manager().get_cookies(base + "/", None, lambda m, r: res.__setitem__("c", [c.get_name()+"="+c.get_value() for c in m.get_cookies_finish(r)]))
    wait(lambda: "c" in res); return res["c"]
print("cookies A (two windows share):", cookies(ctxA), " B:", cookies(ctxB))
# storage of every kind, in view A1
print("storage A:", js_async(vA1, """
localStorage.setItem('k', 'main-local');
sessionStorage.setItem('s', 'x');
await new Promise((ok, no) => { const r = indexedDB.open('db', 1); r.onupgradeneeded = () => r.result.createObjectStore('o'); r.onsuccess = () => { const t = r.result.transaction('o', 'readwrite'); t.objectStore('o').put('main-idb', 'k'); t.oncomplete = ok; }; r.onerror = no; });
const c = await caches.open('c'); await c.put('/x', new Response('main-cache'));
const reg = await navigator.serviceWorker.register('/sw.js'); await navigator.serviceWorker.ready;
return [localStorage.getItem('k'), !!reg];
"""))
print("localStorage seen by A2:", js(vA2, "localStorage.getItem('k')"), " by B:", js(vB1, "localStorage.getItem('k')"))
# subframe navigations and decide-policy
seen = []
def policy(v, d, t):
    if t == WebKit2.PolicyDecisionType.NAVIGATION_ACTION:
        a = d.get_navigation_action()
        seen.append((a.get_request().get_uri(), a.get_frame_name() if hasattr(a, "get_frame_name") else "?"))
    return False
vA1.connect("decide-policy", policy)
js(vA1, "const f = document.createElement('iframe'); f.name='sub'; f.src='/frame'; document.body.appendChild(f); 1")
wait(lambda: any('/frame' in u for u, _ in seen), 5)
print("decide-policy NAVIGATION_ACTION for a subframe:", seen)
# notifications
notes = []
def perm(v, req):
    kind = type(req).__name__; notes.append("permission-request " + kind)
    if isinstance(req, WebKit2.NotificationPermissionRequest): req.allow(); return True
    return False
vA1.connect("permission-request", perm)
vA1.connect("show-notification", lambda v, n: notes.append("show-notification title=%r body=%r" % (n.get_title(), n.get_body())) or True)
print("Notification.requestPermission():", js_async(vA1, "return await Notification.requestPermission();"))
js(vA1, "new Notification('Gold', {body: 'main got 5 gold'}); 1")
wait(lambda: any(n.startswith("show") for n in notes), 5)
print("notification signals:", notes)
# what is on disk
time.sleep(1.5)
for d, _, files in sorted(os.walk(A)):
    rel = os.path.relpath(d, A)
    print("  A/%s: %s" % (rel, sorted(files)[:6]))
print("cookies file A:", open(os.path.join(A, "cookies")).read().strip().splitlines()[-1:])
# wipe A while its windows are open
done = {}
ctxA.get_website_data_manager().clear(WebKit2.WebsiteDataTypes.ALL, 0, None, lambda m, r: done.__setitem__("ok", m.clear_finish(r)))
wait(lambda: "ok" in done)
print("clear(ALL) ->", done["ok"], " cookies A now:", cookies(ctxA), " B:", cookies(ctxB))
print("A2 after clear: localStorage", js(vA2, "localStorage.getItem('k')"))
print("A2 after clear: idb/caches/sw", js_async(vA2, "const dbs = await indexedDB.databases(); const ks = await caches.keys(); const regs = await navigator.serviceWorker.getRegistrations(); return [dbs.length, ks.length, regs.length];"))
print("cookies file A after clear:", [l for l in open(os.path.join(A, "cookies")).read().splitlines() if l and not l.startswith('#')])
for d, _, files in sorted(os.walk(A)):
    if files: print("  after clear A/%s: %s" % (os.path.relpath(d, A), sorted(files)[:6]))
# proxy per data manager: A to a closed port
s = WebKit2.NetworkProxySettings.new("http://127.0.0.1:9", None)
ctxB.get_website_data_manager().set_network_proxy_settings(WebKit2.NetworkProxyMode.CUSTOM, s)
failed = {}
vB1.connect("load-failed", lambda v, e, u, err: failed.__setitem__("B", err.message) or False)
load(vB1, base + "/?again")
load(vA2, base + "/?again")
print("proxy on B's manager: B load failed:", failed.get("B"), "; A2 title:", vA2.get_title())
# close every window of A: does its network process stay?
before = net_procs()
for w in (wA1, wA2): w.destroy()
del vA1, vA2
for _ in range(50): Gtk.main_iteration_do(False); time.sleep(0.02)
print("network processes before/after closing A's windows:", before, net_procs())
