#!/bin/sh
# Check that each vendored crate is exactly the version published on crates.io (the .crate whose
# checksum Cargo.lock had) with the files we keep, plus its patch: vendor/rtc = rtc 0.21.1 +
# vendor/rtc.patch, vendor/webrtc = webrtc 0.21.1 + vendor/webrtc.patch. Exit 0 if so; print the
# difference and exit 1 if not.
#
# The pristine crates come from cargo's download cache, or from crates.io (the ordinary download URL).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {
    name=$1
    version=$2
    sum=$3
    crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$version.crate" 2>/dev/null | head -n 1 || true)
    if [ -z "$crate" ]; then
        crate="$tmp/$name-$version.crate"
        curl -sSfL -o "$crate" "https://static.crates.io/crates/$name/$name-$version.crate"
    fi
    echo "$sum  $crate" | sha256sum -c --quiet -
    tar -xzf "$crate" -C "$tmp"
    mkdir "$tmp/$name"
    for f in src Cargo.toml LICENSE-APACHE LICENSE-MIT README.md; do
        cp -a "$tmp/$name-$version/$f" "$tmp/$name/"
    done
    (cd "$tmp/$name" && patch -s -p1 < "$here/$name.patch")
    diff -r "$tmp/$name" "$here/$name"
    echo "vendor/$name = $name $version + vendor/$name.patch"
}

check rtc 0.21.1 4e2ca201de5ccc83aa3c08d49a2f08d7ed0aeeb2052fb1ccc517a8b77a6927ce
check webrtc 0.21.1 b621e736302bef784948cc8d8099fd0a8fdb5757693c80a344ffbe38c49387d2
