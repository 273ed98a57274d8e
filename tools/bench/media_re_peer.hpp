// media_re_peer: libre's RTP header codec and jitter buffer (re_rtp.h, re_jbuf.h), the receive and send
// path of baresip, as a peer for media_bench. Plain C++ here; libre's headers stay in the .cpp.
//
// What a libre receiver does per datagram: an mbuf for the datagram (libre's udp_recv allocates one
// per packet), rtp_hdr_decode(), jbuf_put() of the mbuf (reference counted, no payload copy), and at
// the playout tick jbuf_get() and mem_deref(). The sender: rtp_hdr_encode() into an mbuf, then the
// payload after it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sipvoice::bench::re_media {

struct receiver;  // one libre jitter buffer (jbuf_alloc(min 1, max 10 frames), as baresip's default)

receiver* receiver_create();
void receiver_destroy(receiver* r);
// One datagram in (copied into a fresh mbuf, header decoded, put into the jitter buffer), then one
// frame out: its payload is copied to `payload` (up to `cap` octets). Returns the payload's size, 0
// when the jitter buffer had nothing to play, or -1 when the header does not decode.
long receiver_packet(receiver* r, const std::uint8_t* datagram, std::size_t size, std::uint8_t* payload,
                     std::size_t cap);

// rtp_hdr_decode() of one datagram alone; returns the payload offset or -1.
long parse_header(const std::uint8_t* datagram, std::size_t size, std::uint16_t* sequence);

struct sender;  // the mbuf a libre sender writes its packets into
sender* sender_create();
void sender_destroy(sender* s);
// rtp_hdr_encode() + the payload into the sender's mbuf; returns the packet's size (the bytes are at
// *out until the next call), or -1.
long sender_packet(sender* s, std::uint8_t payload_type, bool marker, std::uint16_t sequence, std::uint32_t timestamp,
                   std::uint32_t ssrc, const std::uint8_t* payload, std::size_t size, const std::uint8_t** out);

}  // namespace sipvoice::bench::re_media
