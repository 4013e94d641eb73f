//! Address classification for the rules: which addresses are private, container, link-local, CGNAT,
//! loopback, and whether two addresses are plausibly on the same network. Pure and total: anything that
//! is not an IP literal (an mDNS `.local` name, garbage) is [`AddrClass::Name`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address a candidate carries, as far as reachability goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrClass {
    /// A globally routable address.
    Public,
    /// RFC 1918 private IPv4 (10/8, 172.16/12, 192.168/16) or an IPv6 unique-local address (fc00::/7).
    Private,
    /// Docker's default bridge network (172.17.0.0/16), a container address.
    Container,
    /// Carrier-grade NAT shared address space (100.64.0.0/10, RFC 6598).
    Cgnat,
    /// Link-local (169.254/16, fe80::/10).
    LinkLocal,
    /// Loopback (127/8, ::1).
    Loopback,
    /// Unspecified or otherwise unusable (0.0.0.0, ::, multicast, broadcast, documentation ranges are
    /// kept as public).
    Unusable,
    /// Not an IP literal (an mDNS `.local` name or a host name).
    Name,
}

impl AddrClass {
    /// Words for the evidence lines.
    pub fn describe(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Private => "private (RFC 1918)",
            AddrClass::Container => "container (Docker bridge 172.17.0.0/16)",
            AddrClass::Cgnat => "carrier-grade NAT (100.64.0.0/10)",
            AddrClass::LinkLocal => "link-local",
            AddrClass::Loopback => "loopback",
            AddrClass::Unusable => "unusable",
            AddrClass::Name => "a name, not an IP address",
        }
    }

    /// Whether an address of this class is reachable only from its own network (not public).
    pub fn is_local_only(self) -> bool {
        matches!(
            self,
            AddrClass::Private
                | AddrClass::Container
                | AddrClass::Cgnat
                | AddrClass::LinkLocal
                | AddrClass::Loopback
                | AddrClass::Unusable
        )
    }
}

/// Parse an address as a candidate writes it (IPv6 possibly in brackets).
pub fn parse_ip(address: &str) -> Option<IpAddr> {
    let a = address.trim();
    let a = a
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(a);
    a.parse().ok()
}

/// Classify an address string.
pub fn classify(address: &str) -> AddrClass {
    match parse_ip(address) {
        Some(IpAddr::V4(v4)) => classify_v4(v4),
        Some(IpAddr::V6(v6)) => classify_v6(v6),
        None => AddrClass::Name,
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let o = ip.octets();
    if ip.is_loopback() {
        AddrClass::Loopback
    } else if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() {
        AddrClass::Unusable
    } else if ip.is_link_local() {
        AddrClass::LinkLocal
    } else if o[0] == 172 && o[1] == 17 {
        AddrClass::Container
    } else if ip.is_private() {
        AddrClass::Private
    } else if is_cgnat(ip) {
        AddrClass::Cgnat
    } else {
        AddrClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if ip.is_loopback() {
        AddrClass::Loopback
    } else if ip.is_unspecified() || ip.is_multicast() {
        AddrClass::Unusable
    } else if s[0] & 0xffc0 == 0xfe80 {
        AddrClass::LinkLocal
    } else if s[0] & 0xfe00 == 0xfc00 {
        AddrClass::Private
    } else {
        AddrClass::Public
    }
}

/// Whether an IPv4 address is in the CGNAT range 100.64.0.0/10.
pub fn is_cgnat(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 100 && (o[1] & 0xc0) == 64
}

/// Whether `address` (as a string) is in 100.64.0.0/10.
pub fn is_cgnat_str(address: &str) -> bool {
    matches!(parse_ip(address), Some(IpAddr::V4(v4)) if is_cgnat(v4))
}

/// Whether a host at `remote` is plausibly reachable directly from a local interface address `local`:
/// both loopback; or the same IPv4 /24 or IPv6 /64 (the usual LAN prefix, since candidates carry no
/// prefix length). Public addresses are judged elsewhere (they are reachable unless shown otherwise).
pub fn same_network(local: &str, remote: &str) -> bool {
    match (parse_ip(local), parse_ip(remote)) {
        (Some(l), Some(r)) if l.is_loopback() && r.is_loopback() => true,
        (Some(IpAddr::V4(l)), Some(IpAddr::V4(r))) => l.octets()[..3] == r.octets()[..3],
        (Some(IpAddr::V6(l)), Some(IpAddr::V6(r))) => l.segments()[..4] == r.segments()[..4],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for (a, c) in [
            ("10.1.2.3", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.1", AddrClass::Private),
            ("172.32.0.1", AddrClass::Public),
            ("172.17.0.2", AddrClass::Container),
            ("192.168.1.5", AddrClass::Private),
            ("100.64.0.1", AddrClass::Cgnat),
            ("100.127.255.254", AddrClass::Cgnat),
            ("100.128.0.1", AddrClass::Public),
            ("169.254.10.1", AddrClass::LinkLocal),
            ("127.0.0.1", AddrClass::Loopback),
            ("0.0.0.0", AddrClass::Unusable),
            ("203.0.113.7", AddrClass::Public),
            ("fe80::1", AddrClass::LinkLocal),
            ("[fd00::1]", AddrClass::Private),
            ("::1", AddrClass::Loopback),
            ("2001:db8::1", AddrClass::Public),
            ("::ffff:10.0.0.1", AddrClass::Private),
            ("abc.local", AddrClass::Name),
            ("", AddrClass::Name),
        ] {
            assert_eq!(classify(a), c, "{a}");
        }
    }

    #[test]
    fn networks() {
        assert!(same_network("127.0.0.1", "127.0.0.2"));
        assert!(same_network("192.168.1.5", "192.168.1.77"));
        assert!(!same_network("192.168.1.5", "192.168.2.77"));
        assert!(!same_network("10.0.0.5", "172.17.0.2"));
        assert!(same_network("fd00:1:2:3::5", "fd00:1:2:3::9"));
        assert!(!same_network("fd00:1:2:3::5", "10.0.0.1"));
        assert!(!same_network("x.local", "x.local"));
    }
}
