//! Synthetic video frames: the right sizes at the right rate, well-formed enough for depacketizers and
//! key-frame detection, with no real picture.
//!
//! - VP8 (RFC 6386 §9.1): a 3-byte frame tag (bit 0 = 0 on key frames, show_frame = 1, the first-partition
//!   size), and on key frames the start code `9d 01 2a` and a 640x360 size.
//! - H.264: Annex-B NAL units. Key frames are SPS (7) + PPS (8) + IDR slice (5), delta frames a non-IDR
//!   slice (1). SPS/PPS are real (constrained baseline, level 3.1, 640x360); slices carry a plausible
//!   header and filler with no zero bytes, so no start code is ever emulated.
//!
//! Sizes: a key frame is [`KEYFRAME_RATIO`] times a delta frame, and both are scaled so that the average
//! over a key-frame interval is `bitrate / 8 / fps` bytes. Rounding is carried over from frame to frame, so
//! the long-run average is exact.

use bytes::{BufMut, Bytes, BytesMut};

use crate::webrtc_adapter::sender::VideoCodec;

/// How much bigger a key frame is than a delta frame.
pub const KEYFRAME_RATIO: f64 = 6.0;
/// Picture width announced in key frames.
pub const WIDTH: u16 = 640;
/// Picture height announced in key frames.
pub const HEIGHT: u16 = 360;

/// Smallest frame written, whatever the bitrate (headers must fit).
const MIN_FRAME: usize = 24;

/// One synthetic frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The encoded bytes (VP8 frame, or H.264 Annex-B access unit).
    pub data: Bytes,
    /// Whether this is a key frame.
    pub keyframe: bool,
    /// Frame number, from 0.
    pub index: u64,
}

/// Generates the frames of one stream.
#[derive(Debug, Clone)]
pub struct FrameGenerator {
    codec: VideoCodec,
    /// Frames per key-frame interval (a key frame every `gop` frames, at least 1).
    gop: u64,
    key_bytes: f64,
    delta_bytes: f64,
    index: u64,
    /// Bytes owed (target minus written), carried between frames.
    carry: f64,
    rng: u64,
}

impl FrameGenerator {
    /// A generator for `bitrate` bits/s at `fps` frames/s, with a key frame every `keyframe_interval`.
    pub fn new(
        codec: VideoCodec,
        bitrate: u64,
        fps: u32,
        keyframe_interval: std::time::Duration,
    ) -> Self {
        let fps = fps.max(1);
        let gop = ((keyframe_interval.as_secs_f64() * f64::from(fps)).round() as u64).max(1);
        let avg = bitrate as f64 / 8.0 / f64::from(fps);
        let n = gop as f64;
        // gop frames: one key (ratio × delta) and gop-1 deltas average to `avg`.
        let delta = if gop == 1 {
            avg
        } else {
            n * avg / (n - 1.0 + KEYFRAME_RATIO)
        };
        let key = if gop == 1 {
            avg
        } else {
            KEYFRAME_RATIO * delta
        };
        FrameGenerator {
            codec,
            gop,
            key_bytes: key,
            delta_bytes: delta,
            index: 0,
            carry: 0.0,
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// Frames per key-frame interval.
    pub fn gop(&self) -> u64 {
        self.gop
    }

    /// Target size of a key frame and of a delta frame, in bytes.
    pub fn target_sizes(&self) -> (f64, f64) {
        (self.key_bytes, self.delta_bytes)
    }

    /// The next frame.
    pub fn next_frame(&mut self) -> Frame {
        let index = self.index;
        self.index += 1;
        let keyframe = index.is_multiple_of(self.gop);
        let target = if keyframe {
            self.key_bytes
        } else {
            self.delta_bytes
        } + self.carry;
        let size = (target.round().max(0.0) as usize).max(MIN_FRAME);
        self.carry = target - size as f64;
        let data = match self.codec {
            VideoCodec::Vp8 => self.vp8(size, keyframe),
            VideoCodec::H264 => self.h264(size, keyframe, index),
        };
        Frame {
            data,
            keyframe,
            index,
        }
    }

    /// A pseudo-random byte that is never zero.
    fn filler_byte(&mut self) -> u8 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let b = (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
        if b == 0 { 0x5a } else { b }
    }

    fn fill(&mut self, buf: &mut BytesMut, n: usize) {
        for _ in 0..n {
            let b = self.filler_byte();
            buf.put_u8(b);
        }
    }

    fn vp8(&mut self, size: usize, keyframe: bool) -> Bytes {
        let header = if keyframe { 10 } else { 3 };
        let size = size.max(header + 1);
        let mut buf = BytesMut::with_capacity(size);
        // First partition: the whole rest of the frame, within the 19-bit field.
        let first_part = ((size - header) as u32).min(0x7_ffff);
        let frame_type = u32::from(!keyframe); // 0 = key frame
        let version = 0u32;
        let show_frame = 1u32;
        let tag = frame_type | (version << 1) | (show_frame << 4) | (first_part << 5);
        buf.put_u8((tag & 0xff) as u8);
        buf.put_u8(((tag >> 8) & 0xff) as u8);
        buf.put_u8(((tag >> 16) & 0xff) as u8);
        if keyframe {
            buf.put_slice(&[0x9d, 0x01, 0x2a]);
            buf.put_u16_le(WIDTH & 0x3fff); // horizontal scale 0
            buf.put_u16_le(HEIGHT & 0x3fff); // vertical scale 0
        }
        self.fill(&mut buf, size - header);
        buf.freeze()
    }

    fn h264(&mut self, size: usize, keyframe: bool, index: u64) -> Bytes {
        let mut buf = BytesMut::with_capacity(size);
        if keyframe {
            buf.put_slice(&[0, 0, 0, 1]);
            buf.put_slice(&sps());
            buf.put_slice(&[0, 0, 0, 1]);
            buf.put_slice(&pps());
        }
        buf.put_slice(&[0, 0, 0, 1]);
        let frame_num = if keyframe {
            0
        } else {
            (index % self.gop % 16) as u32
        };
        let slice = slice_header(keyframe, frame_num);
        buf.put_slice(&slice);
        let used = buf.len();
        let rest = size.saturating_sub(used).max(1);
        self.fill(&mut buf, rest);
        buf.freeze()
    }
}

/// An RBSP bit writer with exp-Golomb codes.
struct Bits {
    out: Vec<u8>,
    cur: u8,
    n: u8,
}

impl Bits {
    fn new() -> Self {
        Bits {
            out: Vec::new(),
            cur: 0,
            n: 0,
        }
    }
    fn bit(&mut self, b: bool) {
        self.cur = (self.cur << 1) | u8::from(b);
        self.n += 1;
        if self.n == 8 {
            self.out.push(self.cur);
            self.cur = 0;
            self.n = 0;
        }
    }
    fn u(&mut self, bits: u32, v: u32) {
        for i in (0..bits).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }
    fn ue(&mut self, v: u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        self.u(len - 1, 0);
        self.u(len, x);
    }
    fn se(&mut self, v: i32) {
        let m = if v > 0 {
            (2 * v - 1) as u32
        } else {
            (-2 * v) as u32
        };
        self.ue(m);
    }
    /// rbsp_trailing_bits, then emulation prevention.
    fn finish_rbsp(mut self) -> Vec<u8> {
        self.bit(true);
        while self.n != 0 {
            self.bit(false);
        }
        escape(&self.out)
    }
    /// Byte-align with one bits (slice filler follows; keeps zero bytes out).
    fn finish_aligned_ones(mut self) -> Vec<u8> {
        while self.n != 0 {
            self.bit(true);
        }
        escape(&self.out)
    }
}

/// Insert emulation-prevention bytes (00 00 0x with x <= 3 becomes 00 00 03 0x).
fn escape(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + 4);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// Sequence parameter set: constrained baseline (42e01f), 640x360 (368 coded, cropped by 8 lines).
pub fn sps() -> Vec<u8> {
    let mut b = Bits::new();
    b.u(8, 66); // profile_idc: baseline
    b.u(8, 0xe0); // constraint_set0/1/2
    b.u(8, 31); // level 3.1
    b.ue(0); // seq_parameter_set_id
    b.ue(0); // log2_max_frame_num_minus4
    b.ue(2); // pic_order_cnt_type
    b.ue(1); // max_num_ref_frames
    b.u(1, 0); // gaps_in_frame_num_value_allowed_flag
    b.ue(u32::from(WIDTH) / 16 - 1); // pic_width_in_mbs_minus1
    let mb_h = u32::from(HEIGHT).div_ceil(16);
    b.ue(mb_h - 1); // pic_height_in_map_units_minus1
    b.u(1, 1); // frame_mbs_only_flag
    b.u(1, 1); // direct_8x8_inference_flag
    let crop = (mb_h * 16 - u32::from(HEIGHT)) / 2;
    b.u(1, u32::from(crop > 0)); // frame_cropping_flag
    if crop > 0 {
        b.ue(0);
        b.ue(0);
        b.ue(0);
        b.ue(crop);
    }
    b.u(1, 0); // vui_parameters_present_flag
    let mut nal = vec![0x67];
    nal.extend(b.finish_rbsp());
    nal
}

/// Picture parameter set (CAVLC, one slice group).
pub fn pps() -> Vec<u8> {
    let mut b = Bits::new();
    b.ue(0); // pic_parameter_set_id
    b.ue(0); // seq_parameter_set_id
    b.u(1, 0); // entropy_coding_mode_flag: CAVLC
    b.u(1, 0); // bottom_field_pic_order_in_frame_present_flag
    b.ue(0); // num_slice_groups_minus1
    b.ue(0); // num_ref_idx_l0_default_active_minus1
    b.ue(0); // num_ref_idx_l1_default_active_minus1
    b.u(1, 0); // weighted_pred_flag
    b.u(2, 0); // weighted_bipred_idc
    b.se(0); // pic_init_qp_minus26
    b.se(0); // pic_init_qs_minus26
    b.se(0); // chroma_qp_index_offset
    b.u(1, 1); // deblocking_filter_control_present_flag
    b.u(1, 0); // constrained_intra_pred_flag
    b.u(1, 0); // redundant_pic_cnt_present_flag
    let mut nal = vec![0x68];
    nal.extend(b.finish_rbsp());
    nal
}

/// NAL header and slice header of an IDR (type 5, I slice) or non-IDR (type 1, P slice) picture.
fn slice_header(idr: bool, frame_num: u32) -> Vec<u8> {
    let mut b = Bits::new();
    b.ue(0); // first_mb_in_slice
    b.ue(if idr { 7 } else { 5 }); // slice_type: I (all) / P (all)
    b.ue(0); // pic_parameter_set_id
    b.u(4, frame_num & 0xf); // frame_num (log2_max_frame_num = 4)
    if idr {
        b.ue(0); // idr_pic_id
    } else {
        b.u(1, 0); // num_ref_idx_active_override_flag
        b.u(1, 0); // ref_pic_list_modification_flag_l0
    }
    // dec_ref_pic_marking (nal_ref_idc != 0)
    if idr {
        b.u(1, 0); // no_output_of_prior_pics_flag
        b.u(1, 0); // long_term_reference_flag
    } else {
        b.u(1, 0); // adaptive_ref_pic_marking_mode_flag
    }
    b.se(0); // slice_qp_delta
    b.ue(1); // disable_deblocking_filter_idc = 1
    let mut nal = vec![if idr { 0x65 } else { 0x41 }];
    nal.extend(b.finish_aligned_ones());
    nal
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Split an Annex-B access unit into NAL units (without start codes).
    fn nals(data: &[u8]) -> Vec<&[u8]> {
        let mut starts = Vec::new();
        let mut i = 0;
        while i + 3 <= data.len() {
            if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
                starts.push(i + 3);
                i += 3;
            } else {
                i += 1;
            }
        }
        let mut out = Vec::new();
        for (k, &s) in starts.iter().enumerate() {
            let mut end = if k + 1 < starts.len() {
                starts[k + 1] - 3
            } else {
                data.len()
            };
            while end > s && data[end - 1] == 0 {
                end -= 1; // the leading zero of a 4-byte start code
            }
            out.push(&data[s..end]);
        }
        out
    }

    #[test]
    fn vp8_key_and_delta_frame_tags() {
        let mut g = FrameGenerator::new(VideoCodec::Vp8, 2_000_000, 30, Duration::from_secs(2));
        assert_eq!(g.gop(), 60);
        let key = g.next_frame();
        assert!(key.keyframe);
        let d = &key.data;
        assert_eq!(d[0] & 1, 0, "key frame: frame_type bit is 0");
        assert_eq!((d[0] >> 1) & 7, 0, "version 0");
        assert_eq!((d[0] >> 4) & 1, 1, "show_frame");
        let tag = u32::from(d[0]) | (u32::from(d[1]) << 8) | (u32::from(d[2]) << 16);
        assert_eq!((tag >> 5) as usize, d.len() - 10, "first partition size");
        assert_eq!(&d[3..6], &[0x9d, 0x01, 0x2a]);
        assert_eq!(u16::from_le_bytes([d[6], d[7]]) & 0x3fff, 640);
        assert_eq!(u16::from_le_bytes([d[8], d[9]]) & 0x3fff, 360);

        let delta = g.next_frame();
        assert!(!delta.keyframe);
        let d = &delta.data;
        assert_eq!(d[0] & 1, 1, "delta frame: frame_type bit is 1");
        assert_eq!((d[0] >> 4) & 1, 1, "show_frame");
        let tag = u32::from(d[0]) | (u32::from(d[1]) << 8) | (u32::from(d[2]) << 16);
        assert_eq!((tag >> 5) as usize, d.len() - 3);
        assert!(key.data.len() > 4 * delta.data.len());
        // Key frames recur every gop frames.
        for _ in 2..60 {
            assert!(!g.next_frame().keyframe);
        }
        assert!(g.next_frame().keyframe);
    }

    #[test]
    fn h264_nal_types_and_no_emulated_start_codes() {
        let mut g = FrameGenerator::new(VideoCodec::H264, 1_000_000, 25, Duration::from_secs(1));
        for i in 0..60 {
            let f = g.next_frame();
            assert!(f.data.starts_with(&[0, 0, 0, 1]));
            let units = nals(&f.data);
            let types: Vec<u8> = units.iter().map(|n| n[0] & 0x1f).collect();
            if i % 25 == 0 {
                assert!(f.keyframe);
                assert_eq!(types, vec![7, 8, 5], "frame {i}");
            } else {
                assert!(!f.keyframe);
                assert_eq!(types, vec![1], "frame {i}");
            }
            for n in &units {
                assert_eq!(n[0] & 0x80, 0, "forbidden_zero_bit");
                assert_ne!(n[0] & 0x60, 0, "nal_ref_idc");
                assert_ne!(*n.last().unwrap(), 0, "no trailing zero byte");
                for w in n.windows(3) {
                    assert!(
                        !(w[0] == 0 && w[1] == 0 && w[2] <= 2),
                        "emulated start code in frame {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn sps_is_constrained_baseline_31() {
        let s = sps();
        assert_eq!(&s[..4], &[0x67, 0x42, 0xe0, 0x1f]);
        assert_eq!(&pps()[..1], &[0x68]);
    }

    #[test]
    fn average_size_matches_bitrate() {
        for (codec, bitrate, fps, ki) in [
            (VideoCodec::Vp8, 2_000_000u64, 30u32, 2.0f64),
            (VideoCodec::H264, 2_000_000, 30, 2.0),
            (VideoCodec::Vp8, 500_000, 15, 1.0),
            (VideoCodec::H264, 300_000, 24, 0.5),
            (VideoCodec::Vp8, 8_000_000, 60, 3.0),
        ] {
            let mut g = FrameGenerator::new(codec, bitrate, fps, Duration::from_secs_f64(ki));
            let frames = g.gop() * 3;
            let total: usize = (0..frames).map(|_| g.next_frame().data.len()).sum();
            let expect = bitrate as f64 / 8.0 / f64::from(fps) * frames as f64;
            let err = (total as f64 - expect).abs() / expect;
            assert!(err < 0.01, "{codec:?} {bitrate} {fps}: {total} vs {expect}");
        }
    }

    #[test]
    fn keyframes_are_bigger_by_the_ratio() {
        let g = FrameGenerator::new(VideoCodec::Vp8, 2_000_000, 30, Duration::from_secs(2));
        let (k, d) = g.target_sizes();
        assert!((k / d - KEYFRAME_RATIO).abs() < 1e-9);
        // gop 60: (6 + 59) * d = 60 * avg.
        let avg = 2_000_000.0 / 8.0 / 30.0;
        assert!(((k + 59.0 * d) / 60.0 - avg).abs() < 1e-6);
    }
}
