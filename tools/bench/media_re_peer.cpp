// libre's RTP receive and send path, the peer of media_bench (media_re_peer.hpp).
#include "media_re_peer.hpp"

#include <cstring>

// libre's headers configure themselves from these feature macros (see peers/re_peer.cpp).
#ifndef HAVE_INTTYPES_H
#define HAVE_INTTYPES_H 1
#endif
#ifndef HAVE_STDBOOL_H
#define HAVE_STDBOOL_H 1
#endif
#ifndef HAVE_INET6
#define HAVE_INET6 1
#endif

#include <re.h>

namespace sipvoice::bench::re_media {

struct receiver {
    struct jbuf* jb = nullptr;
};

receiver* receiver_create() {
    auto* r = new receiver;
    if (jbuf_alloc(&r->jb, 1, 10) != 0) {
        delete r;
        return nullptr;
    }
    return r;
}

void receiver_destroy(receiver* r) {
    if (r == nullptr) return;
    mem_deref(r->jb);
    delete r;
}

long receiver_packet(receiver* r, const std::uint8_t* datagram, std::size_t size, std::uint8_t* payload,
                     std::size_t cap) {
    struct mbuf* mb = mbuf_alloc(size);
    if (mb == nullptr) return -1;
    (void)mbuf_write_mem(mb, datagram, size);
    mb->pos = 0;
    struct rtp_header hdr;
    if (rtp_hdr_decode(&hdr, mb) != 0) {
        mem_deref(mb);
        return -1;
    }
    (void)jbuf_put(r->jb, &hdr, mb);  // the jitter buffer takes its own reference
    mem_deref(mb);

    struct rtp_header out_hdr;
    void* mem = nullptr;
    const int err = jbuf_get(r->jb, &out_hdr, &mem);
    if ((err != 0 && err != EAGAIN) || mem == nullptr) return 0;
    auto* frame = static_cast<struct mbuf*>(mem);
    std::size_t n = mbuf_get_left(frame);
    if (n > cap) n = cap;
    std::memcpy(payload, mbuf_buf(frame), n);
    mem_deref(frame);
    return static_cast<long>(n);
}

long parse_header(const std::uint8_t* datagram, std::size_t size, std::uint16_t* sequence) {
    // A stack mbuf over the caller's bytes: decoding alone, no allocation.
    struct mbuf mb;
    std::memset(&mb, 0, sizeof mb);
    mb.buf = const_cast<std::uint8_t*>(datagram);
    mb.size = size;
    mb.end = size;
    mb.pos = 0;
    struct rtp_header hdr;
    if (rtp_hdr_decode(&hdr, &mb) != 0) return -1;
    *sequence = hdr.seq;
    return static_cast<long>(mb.pos);
}

struct sender {
    struct mbuf* mb = nullptr;
};

sender* sender_create() {
    auto* s = new sender;
    s->mb = mbuf_alloc(1500);
    if (s->mb == nullptr) {
        delete s;
        return nullptr;
    }
    return s;
}

void sender_destroy(sender* s) {
    if (s == nullptr) return;
    mem_deref(s->mb);
    delete s;
}

long sender_packet(sender* s, std::uint8_t payload_type, bool marker, std::uint16_t sequence, std::uint32_t timestamp,
                   std::uint32_t ssrc, const std::uint8_t* payload, std::size_t size, const std::uint8_t** out) {
    struct rtp_header hdr;
    std::memset(&hdr, 0, sizeof hdr);
    hdr.ver = RTP_VERSION;
    hdr.m = marker;
    hdr.pt = payload_type;
    hdr.seq = sequence;
    hdr.ts = timestamp;
    hdr.ssrc = ssrc;
    mbuf_rewind(s->mb);
    if (rtp_hdr_encode(s->mb, &hdr) != 0) return -1;
    if (mbuf_write_mem(s->mb, payload, size) != 0) return -1;
    *out = s->mb->buf;
    return static_cast<long>(s->mb->end);
}

}  // namespace sipvoice::bench::re_media
