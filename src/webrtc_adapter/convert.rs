//! Conversions from webrtc-rs types to the event stream's types.

use rtc::peer_connection::transport::{
    RTCIceCandidate, RTCIceCandidateType, RTCIceTcpCandidateType,
};

use crate::event::{Candidate, CandidateType};

/// Our candidate type for webrtc-rs's.
pub(crate) fn candidate_type(t: RTCIceCandidateType) -> Option<CandidateType> {
    match t {
        RTCIceCandidateType::Host => Some(CandidateType::Host),
        RTCIceCandidateType::Srflx => Some(CandidateType::Srflx),
        RTCIceCandidateType::Prflx => Some(CandidateType::Prflx),
        RTCIceCandidateType::Relay => Some(CandidateType::Relay),
        _ => None,
    }
}

/// A local candidate from the `on_ice_candidate` event (full u32 priority, unlike the stats).
pub(crate) fn candidate(c: &RTCIceCandidate, event_url: Option<&str>) -> Option<Candidate> {
    let typ = candidate_type(c.typ)?;
    let related = !c.related_address.is_empty();
    let tcp_type = match c.tcp_type {
        RTCIceTcpCandidateType::Active => "active",
        RTCIceTcpCandidateType::Passive => "passive",
        RTCIceTcpCandidateType::SimultaneousOpen => "so",
        _ => "",
    };
    let url = event_url
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .or_else(|| c.url.clone().filter(|u| !u.is_empty()));
    Some(Candidate {
        typ,
        protocol: c.protocol.to_string().to_ascii_lowercase(),
        address: c.address.clone(),
        port: c.port,
        priority: c.priority,
        foundation: c.foundation.clone(),
        component: c.component,
        related_address: related.then(|| c.related_address.clone()),
        related_port: related.then_some(c.related_port),
        tcp_type: (!tcp_type.is_empty()).then(|| tcp_type.to_owned()),
        url,
        relay_protocol: None,
    })
}

/// The W3C name of a state from its `Display` (webrtc-rs already prints `connected`, `have-local-offer`, …).
pub(crate) fn state_name(s: impl std::fmt::Display) -> String {
    s.to_string()
}
