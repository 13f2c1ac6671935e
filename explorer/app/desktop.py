"""Can the window start here? Checked before Qt is imported, because a Qt platform plugin
that cannot load aborts the whole process with a many-line message of Qt's own.

This module imports no Qt: it reads which shared libraries Qt's xcb plugin needs with
``ldd`` and names the Debian packages that provide the missing ones.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: library file -> the Debian/Ubuntu package that provides it
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}

#: what the README tells a desktop to install (the xcb plugin's needs beyond a bare X11)
README_PACKAGES = ("libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 "
                   "libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 "
                   "libegl1 libgl1 libfontconfig1 libdbus-1-3")


def _qt_dir() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def platform_name(offscreen: bool) -> str:
    """The Qt platform the window will use."""
    if offscreen:
        return "offscreen"
    name = os.environ.get("QT_QPA_PLATFORM", "")
    if name:
        return name.split(":")[0]
    if sys.platform.startswith("linux"):
        return "wayland" if os.environ.get("WAYLAND_DISPLAY") and not os.environ.get(
            "DISPLAY") else "xcb"
    return "native"


def missing_libraries(plugin: str) -> list[str]:
    """The shared libraries that Qt's `plugin` platform plugin needs and cannot find."""
    qt = _qt_dir()
    if qt is None or not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        return []
    names = {"xcb": ["plugins/platforms/libqxcb.so", "lib/libQt6XcbQpa.so.6"],
             "offscreen": ["plugins/platforms/libqoffscreen.so"],
             "wayland": ["plugins/platforms/libqwayland-generic.so",
                         "plugins/platforms/libqwayland.so"]}.get(plugin, [])
    missing: list[str] = []
    for rel in names:
        path = qt / rel
        if not path.exists():
            continue
        try:
            out = subprocess.run(["ldd", str(path)], capture_output=True, text=True,
                                 timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        for line in out.splitlines():
            if "not found" in line:
                lib = line.split("=>")[0].strip()
                if lib not in missing:
                    missing.append(lib)
    return missing


def problem(offscreen: bool = False) -> str | None:
    """One sentence saying why the window cannot start here, or None."""
    if importlib.util.find_spec("PySide6") is None:
        return "the window needs PySide6: pip install -e ."
    plugin = platform_name(offscreen)
    if plugin == "xcb" and not os.environ.get("DISPLAY"):
        return ("there is no display to open the window on (DISPLAY is not set); run it on "
                "a desktop, or render it with --screenshot OUT.png")
    missing = missing_libraries(plugin)
    if missing:
        packages = sorted({DEBIAN_PACKAGES.get(lib, lib) for lib in missing})
        return (f"Qt's {plugin} platform cannot start: {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing; on Debian or Ubuntu: "
                f"sudo apt-get install {' '.join(packages)}")
    return None
