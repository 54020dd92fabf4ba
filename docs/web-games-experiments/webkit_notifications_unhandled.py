"""With no permission-request handler, Notification.requestPermission() answers "denied". Usage: xvfb-run -a /usr/bin/python3 webkit_notifications_unhandled.py PORT"""
import gi, os, sys, time
gi.require_version("Gtk", "3.0"); gi.require_version("WebKit2", "4.1")
from gi.repository import Gtk, WebKit2
port = sys.argv[1]
def wait(pred, t=10):
    end = time.time() + t
    while not pred() and time.time() < end: Gtk.main_iteration_do(False)
w = Gtk.Window(); v = WebKit2.WebView(); w.add(v); w.show_all()
done = {"d": False}
v.connect("load-changed", lambda v, e: e == WebKit2.LoadEvent.FINISHED and done.__setitem__("d", True))
v.load_uri("http://127.0.0.1:%s/" % port); wait(lambda: done["d"])
res = {}
v.call_async_javascript_function("return await Notification.requestPermission();", -1, None, None, None, None,
    lambda v, r: res.__setitem__("v", v.call_async_javascript_function_finish(r).to_string()))
wait(lambda: "v" in res)
print("no permission-request handler: Notification.requestPermission() ->", res["v"])
