//! Where the viewer gathers host candidates, as a browser does: a wildcard bind (`0.0.0.0:0`, `[::]:0`)
//! means every usable interface of its family (webrtc-rs expands it the same way when it binds: loopback,
//! unspecified and link-local addresses are skipped), and a specific address is used as given. The plan
//! names the interface of each address and flags virtual ones (container bridges, veth pairs, VPN and
//! overlay tunnels, hypervisor networks), so the user sees which interfaces were used.
//!
//! Pure but for [`local_interfaces`], which asks the OS.

use std::net::{IpAddr, SocketAddr};

use crate::event::LocalAddress;

/// One address of one local interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// Interface name (`eth0`, `lo`, `docker0`).
    pub name: String,
    /// One of its addresses.
    pub ip: IpAddr,
}

/// What to bind and what that means in interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The addresses to hand to webrtc-rs: the configured ones, minus wildcards of a family with no
    /// usable interface (they would only yield a `0.0.0.0` or `::` candidate), unless nothing else is left.
    pub bind: Vec<SocketAddr>,
    /// The addresses host candidates are gathered on, wildcards expanded, each with its interface.
    pub addresses: Vec<LocalAddress>,
}

/// The local interfaces and their IP addresses (empty if the OS would not say).
pub fn local_interfaces() -> Vec<Iface> {
    match rtc::shared::ifaces::ifaces() {
        Ok(list) => list
            .into_iter()
            .filter_map(|i| {
                i.addr.map(|a| Iface {
                    name: i.name,
                    ip: a.ip(),
                })
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Link-local unicast: `169.254.0.0/16` and `fe80::/10`.
fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// An address webrtc-rs keeps when it expands a wildcard.
pub fn usable_for_wildcard(ip: &IpAddr) -> bool {
    !ip.is_loopback() && !ip.is_unspecified() && !is_link_local(ip)
}

/// Whether an interface name is a virtual adapter: container bridges and veth pairs (docker, podman,
/// CNI, LXC), VPN and overlay tunnels (tun, tap, WireGuard, Tailscale, ZeroTier), hypervisor networks
/// (libvirt, VirtualBox, VMware).
pub fn is_virtual(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "docker",
        "br-",
        "veth",
        "virbr",
        "vboxnet",
        "vmnet",
        "tun",
        "tap",
        "utun",
        "wg",
        "tailscale",
        "zt",
        "cni",
        "flannel",
        "cali",
        "vxlan",
        "lxc",
        "lxd",
        "podman",
        "cilium",
        "kube",
        "weave",
        "gre",
        "ipip",
        "sit",
        "vti",
        "ppp",
    ];
    let n = name.to_ascii_lowercase();
    PREFIXES.iter().any(|p| n.starts_with(p))
}

/// Add `ip` on interface `name` to the plan's addresses, once.
fn push(out: &mut Plan, name: &str, ip: IpAddr) {
    let address = ip.to_string();
    if !out.addresses.iter().any(|a| a.address == address) {
        out.addresses.push(LocalAddress {
            interface: name.to_owned(),
            address,
            virtual_adapter: is_virtual(name),
        });
    }
}

/// Plan the binds of `bind` on a machine with interfaces `ifaces` (see [`Plan`]).
pub fn plan(bind: &[SocketAddr], ifaces: &[Iface]) -> Plan {
    let mut out = Plan::default();
    for b in bind {
        if b.ip().is_unspecified() {
            let matching: Vec<&Iface> = ifaces
                .iter()
                .filter(|i| i.ip.is_ipv4() == b.is_ipv4() && usable_for_wildcard(&i.ip))
                .collect();
            if matching.is_empty() {
                continue;
            }
            for i in matching {
                push(&mut out, &i.name, i.ip);
            }
        } else {
            let name = ifaces
                .iter()
                .find(|i| i.ip == b.ip())
                .map_or("", |i| i.name.as_str());
            push(&mut out, name, b.ip());
        }
        if !out.bind.contains(b) {
            out.bind.push(*b);
        }
    }
    if out.bind.is_empty() {
        // No interface at all for the wildcards: bind them as configured (webrtc-rs does the same) so
        // the connection can still come up over a relay.
        out.bind = bind.to_vec();
        for b in bind {
            push(&mut out, "", b.ip());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(name: &str, ip: &str) -> Iface {
        Iface {
            name: name.into(),
            ip: ip.parse().unwrap(),
        }
    }

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn machine() -> Vec<Iface> {
        vec![
            i("lo", "127.0.0.1"),
            i("lo", "::1"),
            i("eth0", "192.168.1.5"),
            i("eth0", "fe80::1"),
            i("eth0", "2001:db8::5"),
            i("docker0", "172.17.0.1"),
            i("wlan0", "169.254.3.4"),
        ]
    }

    #[test]
    fn wildcards_expand_to_usable_interfaces_and_loopback_is_added_as_given() {
        let p = plan(
            &[a("0.0.0.0:0"), a("[::]:0"), a("127.0.0.1:0"), a("[::1]:0")],
            &machine(),
        );
        assert_eq!(p.bind.len(), 4);
        let got: Vec<(String, String, bool)> = p
            .addresses
            .iter()
            .map(|l| (l.interface.clone(), l.address.clone(), l.virtual_adapter))
            .collect();
        assert_eq!(
            got,
            vec![
                ("eth0".into(), "192.168.1.5".into(), false),
                ("docker0".into(), "172.17.0.1".into(), true),
                ("eth0".into(), "2001:db8::5".into(), false),
                ("lo".into(), "127.0.0.1".into(), false),
                ("lo".into(), "::1".into(), false),
            ]
        );
    }

    #[test]
    fn a_wildcard_of_a_family_without_interfaces_is_dropped() {
        let ifs = vec![i("lo", "127.0.0.1"), i("lo", "::1"), i("eth0", "10.0.0.2")];
        let p = plan(&[a("0.0.0.0:0"), a("[::]:0"), a("[::1]:0")], &ifs);
        assert_eq!(p.bind, vec![a("0.0.0.0:0"), a("[::1]:0")]);
        // Nothing usable at all: as configured.
        let p = plan(&[a("[::]:0")], &ifs);
        assert_eq!(p.bind, vec![a("[::]:0")]);
        assert_eq!(p.addresses[0].address, "::");
    }

    #[test]
    fn a_specific_address_names_its_interface() {
        let p = plan(&[a("192.168.1.5:40000")], &machine());
        assert_eq!(p.bind, vec![a("192.168.1.5:40000")]);
        assert_eq!(p.addresses[0].interface, "eth0");
    }

    #[test]
    fn virtual_adapters_by_name() {
        for n in [
            "docker0",
            "br-1a2b",
            "veth12ab",
            "tun0",
            "wg0",
            "tailscale0",
            "virbr0",
        ] {
            assert!(is_virtual(n), "{n}");
        }
        for n in ["eth0", "enp3s0", "wlan0", "lo", "en0"] {
            assert!(!is_virtual(n), "{n}");
        }
    }
}
