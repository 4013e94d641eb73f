//! Key-frame detection from RTP payloads (pure): the viewer does not decode, but "media without key
//! frames" is a diagnosis, so the first packet of every key frame is counted.

/// True when this RTP payload starts a key frame of the codec `mime` (`video/VP8`, `video/VP9`, `video/H264`).
/// Unknown codecs and malformed payloads give `false`.
pub fn is_keyframe_start(mime: &str, payload: &[u8]) -> bool {
    let m = mime.to_ascii_lowercase();
    match m.as_str() {
        "video/vp8" => vp8(payload),
        "video/vp9" => vp9(payload),
        "video/h264" => h264(payload),
        _ => false,
    }
}

/// RFC 7741: payload descriptor, then the VP8 frame tag whose bit 0 is 0 for a key frame.
fn vp8(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let x = b0 & 0x80 != 0;
    let s = b0 & 0x10 != 0;
    let pid = b0 & 0x07;
    if !s || pid != 0 {
        return false;
    }
    let mut i = 1;
    if x {
        let Some(&ext) = p.get(i) else { return false };
        i += 1;
        if ext & 0x80 != 0 {
            // PictureID: 1 or 2 bytes (M bit).
            let Some(&pic) = p.get(i) else { return false };
            i += if pic & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if ext & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    p.get(i).is_some_and(|tag| tag & 0x01 == 0)
}

/// VP9 payload descriptor (draft-ietf-payload-vp9): B (start of frame) set and P (inter-predicted) clear.
fn vp9(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let inter = b0 & 0x40 != 0;
    let begin = b0 & 0x08 != 0;
    begin && !inter
}

/// H.264 (RFC 6184): an IDR slice or an SPS, alone, in a STAP-A, or as the start of an FU-A.
fn h264(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let is_key = |t: u8| t == 5 || t == 7;
    match b0 & 0x1f {
        24 => {
            // STAP-A: 16-bit size + NAL, repeated.
            let mut i = 1;
            while i + 2 < p.len() {
                let size = usize::from(u16::from_be_bytes([p[i], p[i + 1]]));
                let Some(&nal) = p.get(i + 2) else { break };
                if is_key(nal & 0x1f) {
                    return true;
                }
                i += 2 + size;
            }
            false
        }
        28 => p
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && is_key(fu & 0x1f)),
        t => is_key(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_descriptors() {
        // S=1, PID=0, no extension; frame tag bit0 = 0 → key frame.
        assert!(is_keyframe_start(
            "video/VP8",
            &[0x10, 0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a]
        ));
        // Same with bit0 = 1 → delta frame.
        assert!(!is_keyframe_start("video/VP8", &[0x10, 0x51]));
        // Not the start of a partition.
        assert!(!is_keyframe_start("video/VP8", &[0x00, 0x50]));
        // X=1, I=1 with a 15-bit picture id (M=1), then the tag.
        assert!(is_keyframe_start(
            "video/vp8",
            &[0x90, 0x80, 0x81, 0x23, 0x50]
        ));
        assert!(!is_keyframe_start(
            "video/vp8",
            &[0x90, 0x80, 0x81, 0x23, 0x51]
        ));
        // Truncated inputs never panic.
        for n in 0..5 {
            let _ = is_keyframe_start("video/vp8", &[0x90, 0x80, 0x81, 0x23, 0x50][..n]);
        }
    }

    #[test]
    fn vp9_descriptors() {
        assert!(is_keyframe_start("video/VP9", &[0x08]));
        assert!(!is_keyframe_start("video/VP9", &[0x48]));
        assert!(!is_keyframe_start("video/VP9", &[0x00]));
        assert!(!is_keyframe_start("video/VP9", &[]));
    }

    #[test]
    fn h264_nal_units() {
        assert!(is_keyframe_start("video/H264", &[0x65, 0x88])); // IDR
        assert!(is_keyframe_start("video/H264", &[0x67, 0x42])); // SPS
        assert!(!is_keyframe_start("video/H264", &[0x41, 0x9a])); // non-IDR slice
        // STAP-A holding SPS.
        assert!(is_keyframe_start(
            "video/H264",
            &[0x78, 0x00, 0x02, 0x67, 0x42]
        ));
        // STAP-A with a bogus size runs off the end safely.
        assert!(!is_keyframe_start("video/H264", &[0x78, 0xff, 0xff, 0x41]));
        // FU-A start of an IDR, and a continuation.
        assert!(is_keyframe_start("video/H264", &[0x7c, 0x85, 0x00]));
        assert!(!is_keyframe_start("video/H264", &[0x7c, 0x05, 0x00]));
        assert!(!is_keyframe_start("video/H264", &[]));
    }

    #[test]
    fn unknown_codecs_are_not_keyframes() {
        assert!(!is_keyframe_start("audio/opus", &[0x10, 0x00]));
    }
}
