#!/usr/bin/env node
// The reference viewer of `cargo bench --bench receive`: Google's libwebrtc, through the npm package
// @roamhq/wrtc (an independent WebRTC stack), receiving one video track over WHEP from URL, as
// rtcscope does. The bench installs the package itself (`npm install @roamhq/wrtc@0.10.0` into
// target/wrtc-reference); NODE_PATH points there.
//
// Runs for DURATION_S seconds from the start, then prints one JSON line with the inbound-rtp figures
// of its video track (packetsReceived, packetsLost, bytesReceived, headerBytesReceived), or an "error".
//
// Usage: wrtc_viewer.js URL DURATION_S

const { RTCPeerConnection } = require("@roamhq/wrtc");

async function main(url, durationS) {
  const started = Date.now();
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("video", { direction: "recvonly" });
  await pc.setLocalDescription(await pc.createOffer());
  // WHEP without trickle: the offer carries every candidate.
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    setTimeout(resolve, 2000);
  });
  const resp = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/sdp" },
    body: pc.localDescription.sdp,
  });
  if (!resp.ok) throw new Error(`WHEP POST: HTTP ${resp.status}`);
  await pc.setRemoteDescription({ type: "answer", sdp: await resp.text() });
  const left = durationS * 1000 - (Date.now() - started);
  await new Promise((r) => setTimeout(r, Math.max(0, left)));
  const stats = await pc.getStats();
  let out = { error: "no inbound-rtp video stats" };
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && (s.kind === "video" || s.mediaType === "video")) {
      out = {
        packetsReceived: s.packetsReceived,
        packetsLost: s.packetsLost,
        bytesReceived: s.bytesReceived,
        headerBytesReceived: s.headerBytesReceived || 0,
      };
    }
  });
  pc.close();
  return out;
}

const [url, duration] = process.argv.slice(2);
main(url, Number(duration || 6))
  .catch((e) => ({ error: String(e) }))
  .then((out) => {
    console.log(JSON.stringify(out));
    process.exit(0);
  });
