#!/bin/sh
# Check that vendor/rtc is exactly rtc 0.21.1 as published (the .crate whose checksum Cargo.lock had)
# with the files we keep, plus vendor/rtc.patch. Exit 0 if so; print the difference and exit 1 if not.
#
# The pristine crate comes from cargo's download cache, or from crates.io (the ordinary download URL).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sum=4e2ca201de5ccc83aa3c08d49a2f08d7ed0aeeb2052fb1ccc517a8b77a6927ce
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/rtc-0.21.1.crate 2>/dev/null | head -n 1 || true)
if [ -z "$crate" ]; then
    crate="$tmp/rtc-0.21.1.crate"
    curl -sSfL -o "$crate" https://static.crates.io/crates/rtc/rtc-0.21.1.crate
fi
echo "$sum  $crate" | sha256sum -c --quiet -
tar -xzf "$crate" -C "$tmp"
mkdir "$tmp/rtc"
for f in src Cargo.toml LICENSE-APACHE LICENSE-MIT README.md; do
    cp -a "$tmp/rtc-0.21.1/$f" "$tmp/rtc/"
done
(cd "$tmp/rtc" && patch -s -p1 < "$here/rtc.patch")
diff -r "$tmp/rtc" "$here/rtc"
echo "vendor/rtc = rtc 0.21.1 + vendor/rtc.patch"
