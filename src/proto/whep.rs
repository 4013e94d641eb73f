//! WHEP (draft-ietf-wish-whep) and the conventions it shares with WHIP (RFC 9725): the pure
//! protocol layer, no I/O, no clock.
//!
//! A WHEP viewer session is a handful of HTTP exchanges:
//! 1. optional `OPTIONS <endpoint>`: ICE servers in `Link` headers (RFC 9725 §4.6 allows it but
//!    does not recommend it; MediaMTX does it);
//! 2. `POST <endpoint>` with the `application/sdp` offer: `201 Created` with the answer, a
//!    `Location` for the session resource, an `ETag` and `Link` ICE servers (or `406` with a
//!    counter-offer, `307` to another endpoint, `409`/`503` with `Retry-After`);
//! 3. `PATCH <resource>` with an `application/trickle-ice-sdpfrag` body (RFC 8840, RFC 9725 §4.3):
//!    trickled candidates (`If-Match: <etag>`, `204`), or an ICE restart (new ufrag/pwd,
//!    `If-Match: "*"`, `200` with the server's new sdpfrag and a new `ETag`);
//! 4. `DELETE <resource>`.
//!
//! Pieces:
//! - [`link`]: `Link: <url>; rel="ice-server"; …` headers, parse and format;
//! - [`sdpfrag`]: the trickle-ice-sdpfrag body, parse and write, and the frag for trickling;
//! - [`http`]: `Location`, `Retry-After`, `ETag`/`If-Match`, content types, error bodies, the
//!   endpoint URL for a page URL;
//! - [`deviation`]: what a server did differently from the draft, as informational sentences.
//!
//! Everything is re-exported here, so callers write `proto::whep::parse_link_headers`.

pub mod deviation;
pub mod http;
pub mod link;
pub mod sdpfrag;

pub use deviation::{Deviation, Exchange, ice_servers_only_on_options, response_deviations};
pub use http::{
    ETag, ICE_RESTART_IF_MATCH, MAX_ERROR_DESCRIPTION_CHARS, describe_error_body, header_values,
    if_match_for_trickle, media_type, parse_etag, parse_retry_after, resolve_location,
    whep_url_from_page,
};
pub use link::{LinkIceServer, LinkParse, format_link_ice_server, parse_link_headers};
pub use sdpfrag::{
    FragMedia, MAX_SDPFRAG_BYTES, SdpFrag, parse_sdpfrag, trickle_frag, with_ice_credentials,
    write_sdpfrag,
};

/// Media type of an SDP offer or answer.
pub const SDP_MEDIA_TYPE: &str = "application/sdp";
/// Media type of a trickle / ICE-restart PATCH body (RFC 8840).
pub const SDPFRAG_MEDIA_TYPE: &str = "application/trickle-ice-sdpfrag";
/// Media type of an RFC 9457 problem details body.
pub const PROBLEM_JSON_MEDIA_TYPE: &str = "application/problem+json";

/// Longest piece of input quoted back in an error message (in characters).
const QUOTE_MAX_CHARS: usize = 60;

/// `s` as a quoted string (Rust debug escaping, so control characters are visible), cut to
/// [`QUOTE_MAX_CHARS`] characters.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((idx, _)) => format!("{:?}", format!("{}…", &s[..idx])),
        None => format!("{s:?}"),
    }
}
