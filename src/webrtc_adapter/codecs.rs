//! Codec registration shared by the viewer and the sender: the audio codecs both sides register, the
//! video RTCP feedback, and RTX codecs.

use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_G722, MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_RTX,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use webrtc::peer_connection::MediaEngine;

/// Video RTCP feedback as browsers offer it: REMB, FIR, NACK, PLI.
pub(crate) fn video_feedback() -> Vec<RTCPFeedback> {
    [
        ("goog-remb", ""),
        ("ccm", "fir"),
        ("nack", ""),
        ("nack", "pli"),
    ]
    .into_iter()
    .map(|(typ, parameter)| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    })
    .collect()
}

/// Register Opus, G.722, PCMU and PCMA with their usual payload types.
pub(crate) fn register_audio(me: &mut MediaEngine) -> Result<(), String> {
    let audio = [
        (MIME_TYPE_OPUS, 48000, 2, "minptime=10;useinbandfec=1", 111),
        (MIME_TYPE_G722, 8000, 0, "", 9),
        (MIME_TYPE_PCMU, 8000, 0, "", 0),
        (MIME_TYPE_PCMA, 8000, 0, "", 8),
    ];
    for (mime, clock_rate, channels, fmtp, pt) in audio {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: mime.to_owned(),
                    clock_rate,
                    channels,
                    sdp_fmtp_line: fmtp.to_owned(),
                    rtcp_feedback: vec![],
                },
                payload_type: pt,
            },
            RtpCodecKind::Audio,
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Register an RTX codec (`rtx_pt`) repairing the video payload type `apt`.
pub(crate) fn register_rtx(me: &mut MediaEngine, apt: u8, rtx_pt: u8) -> Result<(), String> {
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_RTX.to_owned(),
                clock_rate: 90000,
                channels: 0,
                sdp_fmtp_line: format!("apt={apt}"),
                rtcp_feedback: vec![],
            },
            payload_type: rtx_pt,
        },
        RtpCodecKind::Video,
    )
    .map_err(|e| e.to_string())
}
