# Sourced by scripts/test: the browser tests drive Debian's Chromium (/usr/bin/chromium) with
# Playwright; never a browser that a tool downloads. Installed here when missing and possible.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the browser tests" >&2
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  else
    echo "The browser tests need Debian's chromium at /usr/bin/chromium:" >&2
    echo "  sudo apt-get install chromium" >&2
  fi
fi
