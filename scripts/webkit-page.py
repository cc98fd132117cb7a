# Opens one URL in WebKitGTK (JavaScriptCore) for scripts/browser-pages.mjs: prints the WebKitGTK
# version, then runs until killed (the page reports its result to the test server with a POST).
# Run under xvfb-run: WebKitGTK needs a display even when nothing is looked at.
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import Gtk, WebKit2  # noqa: E402

url = sys.argv[1]
print(f"WebKitGTK {WebKit2.get_major_version()}.{WebKit2.get_minor_version()}.{WebKit2.get_micro_version()}", flush=True)

# an ephemeral context: nothing persists between runs (OPFS, caches), as a fresh profile elsewhere
context = WebKit2.WebContext.new_ephemeral()
view = WebKit2.WebView.new_with_context(context)
settings = view.get_settings()
settings.set_enable_write_console_messages_to_stdout(True)
settings.set_enable_webaudio(False)
settings.set_enable_webgl(False)
window = Gtk.Window()
window.set_default_size(1360, 900)
window.add(view)
window.connect("destroy", Gtk.main_quit)
window.show_all()
view.load_uri(url)
Gtk.main()
