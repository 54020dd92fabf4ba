"""A session cookie is not written to the text cookie file; only one WebContext can allow automation. Usage: xvfb-run -a /usr/bin/python3 webkit_session_cookies_and_automation.py PORT EMPTY_DIR"""
import gi, os, sys, time
gi.require_version("Gtk", "3.0"); gi.require_version("WebKit2", "4.1")
from gi.repository import Gtk, WebKit2
port, d = sys.argv[1], sys.argv[2]
m = WebKit2.WebsiteDataManager(base_data_directory=d, base_cache_directory=d)
m.get_cookie_manager().set_persistent_storage(os.path.join(d, "cookies"), WebKit2.CookiePersistentStorage.TEXT)
ctx = WebKit2.WebContext(website_data_manager=m)
print("automation allowed, first context:", ctx.is_automation_allowed())
ctx.set_automation_allowed(True)
ctx2 = WebKit2.WebContext(website_data_manager=WebKit2.WebsiteDataManager(base_data_directory=d+"2", base_cache_directory=d+"2"))
ctx2.set_automation_allowed(True)
print("automation allowed: first", ctx.is_automation_allowed(), "second", ctx2.is_automation_allowed())
w = Gtk.Window(); v = WebKit2.WebView(web_context=ctx); w.add(v); w.show_all()
done = {"d": False}
v.connect("load-changed", lambda v, e: e == WebKit2.LoadEvent.FINISHED and done.__setitem__("d", True))
v.load_uri("http://127.0.0.1:%s/session" % port)
end = time.time() + 10
while not done["d"] and time.time() < end: Gtk.main_iteration_do(False)
time.sleep(1)
for _ in range(20): Gtk.main_iteration_do(False)
print("cookies file:", [l for l in open(os.path.join(d, "cookies")).read().splitlines() if l and not l.startswith("# ")])
