// Benchmark peer: libre (creytiv/baresip "re"), SIP message decoder.
//
// sip_msg_decode() splits the message into headers, indexes them in a hash
// table and eagerly decodes only the start line, the first Via, From, To,
// CSeq, Content-Type and a few cached values (Call-ID, Max-Forwards,
// Expires, Content-Length). Everything else is raw name/value text that a
// libre user decodes on demand, so we do exactly that here: sip_via_decode()
// for every Via, sip_addr_decode() for Contact/Route/Record-Route,
// httpauth_digest_*_decode() for the auth headers, msg_param_decode() for
// header parameters.
#include "peers.hpp"
#include "fold.hpp"

#include <mutex>

// libre's public headers configure themselves from these feature macros
// (the library itself is built with them); without them re_types.h
// #defines bool, which must not happen in C++.
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

namespace sipvoice::bench {

namespace {

std::once_flag g_re_once;

// libre's pointer-length slices, folded like the other stacks' strings.
void fold_pl(Fold& f, const struct pl& p) {
  f.str(p.p != nullptr ? std::string_view(p.p, p.l) : std::string_view());
}

void fold_uri(Fold& f, const struct uri& u) {
  fold_pl(f, u.scheme);
  fold_pl(f, u.user);
  fold_pl(f, u.host);
  f.num(u.port);
}

// Optional header parameter; a valueless one (e.g. bare ";rport") folds as
// present-but-empty.
void fold_param(Fold& f, const struct pl& params, const char* name) {
  struct pl val = PL_INIT;
  if (msg_param_decode(&params, name, &val) == 0) {
    fold_pl(f, val);
  } else {
    f.num(msg_param_exists(&params, name, &val) == 0 ? 1U : 0U);
  }
}

// Auth scheme = leading token of the header value ("Digest").
void fold_scheme(Fold& f, const struct pl& val) {
  std::size_t i = 0;
  while (i < val.l && (val.p[i] == ' ' || val.p[i] == '\t')) ++i;
  const std::size_t start = i;
  while (i < val.l && val.p[i] != ' ' && val.p[i] != '\t') ++i;
  struct pl scheme = {val.p + start, i - start};
  fold_pl(f, scheme);
}

// Every occurrence of a header id (libre splits comma-separated values of
// list headers such as Via/Contact/Route into separate entries).
template <typename Fn>
void for_each_hdr(const struct sip_msg* msg, enum sip_hdrid id, Fn&& fn) {
  struct Ctx {
    Fn* fn;
  } ctx{&fn};
  (void)sip_msg_hdr_apply(
      msg, true, id,
      [](const struct sip_hdr* hdr, const struct sip_msg*, void* arg) -> bool {
        (*static_cast<Ctx*>(arg)->fn)(*hdr);
        return false;  // keep going
      },
      &ctx);
}

void fold_addr_hdrs(Fold& f, const struct sip_msg* msg, enum sip_hdrid id) {
  for_each_hdr(msg, id, [&](const struct sip_hdr& hdr) {
    struct sip_addr addr {};
    if (sip_addr_decode(&addr, &hdr.val) == 0) {
      fold_uri(f, addr.uri);
    } else {
      f.num(0xbad);
    }
  });
}

void fold_value_hdrs(Fold& f, const struct sip_msg* msg, enum sip_hdrid id) {
  for_each_hdr(msg, id, [&](const struct sip_hdr& hdr) { fold_pl(f, hdr.val); });
}

void fold_challenges(Fold& f, const struct sip_msg* msg, enum sip_hdrid id) {
  for_each_hdr(msg, id, [&](const struct sip_hdr& hdr) {
    fold_scheme(f, hdr.val);
    struct httpauth_digest_chall ch {};
    if (httpauth_digest_challenge_decode(&ch, &hdr.val) == 0) {
      fold_pl(f, ch.realm);
      fold_pl(f, ch.nonce);
      fold_pl(f, ch.algorithm);
      fold_pl(f, ch.qop);
    } else {
      f.num(0xbad);
    }
  });
}

void fold_credentials(Fold& f, const struct sip_msg* msg, enum sip_hdrid id) {
  for_each_hdr(msg, id, [&](const struct sip_hdr& hdr) {
    fold_scheme(f, hdr.val);
    struct httpauth_digest_resp r {};
    if (httpauth_digest_response_decode(&r, &hdr.val) == 0) {
      fold_pl(f, r.username);
      fold_pl(f, r.realm);
      fold_pl(f, r.nonce);
      fold_pl(f, r.uri);
      fold_pl(f, r.response);
    } else {
      f.num(0xbad);
    }
  });
}

}  // namespace

namespace detail {
void re_init_once() {
  std::call_once(g_re_once, [] { (void)libre_init(); });
}
}  // namespace detail

std::uint64_t parse_re(const char* data, std::size_t len) {
  detail::re_init_once();

  struct mbuf* mb = mbuf_alloc(len);
  if (mb == nullptr) return 0;
  if (mbuf_write_mem(mb, reinterpret_cast<const uint8_t*>(data), len) != 0) {
    mem_deref(mb);
    return 0;
  }
  mb->pos = 0;

  struct sip_msg* msg = nullptr;
  const int err = sip_msg_decode(&msg, mb);
  mem_deref(mb);  // msg holds its own reference on success
  if (err != 0 || msg == nullptr) {
    mem_deref(msg);
    return 0;
  }

  Fold f;

  // Start line (request URI is decoded by sip_msg_decode).
  if (msg->req) {
    fold_pl(f, msg->met);
    fold_uri(f, msg->uri);
  } else {
    f.num(msg->scode);
    fold_pl(f, msg->reason);
  }

  // Via (every entry; msg->via is only the first one).
  for_each_hdr(msg, SIP_HDR_VIA, [&](const struct sip_hdr& hdr) {
    struct sip_via via {};
    if (sip_via_decode(&via, &hdr.val) != 0) {
      f.num(0xbad);
      return;
    }
    f.num(static_cast<std::uint64_t>(via.tp));
    fold_pl(f, via.sentby);
    f.num(sa_port(&via.addr));
    fold_pl(f, via.branch);
    fold_param(f, via.params, "received");
    fold_param(f, via.params, "rport");
  });

  // From / To (decoded by sip_msg_decode).
  for (const struct sip_taddr* a : {&msg->from, &msg->to}) {
    fold_pl(f, a->dname);
    fold_uri(f, a->uri);
    fold_pl(f, a->tag);
  }

  // Call-ID / CSeq.
  fold_pl(f, msg->callid);
  f.num(msg->cseq.num);
  fold_pl(f, msg->cseq.met);

  // Contact (every entry) with expires / q.
  for_each_hdr(msg, SIP_HDR_CONTACT, [&](const struct sip_hdr& hdr) {
    struct sip_addr addr {};
    if (sip_addr_decode(&addr, &hdr.val) != 0) {
      f.num(0xbad);
      return;
    }
    fold_pl(f, addr.dname);
    fold_uri(f, addr.uri);
    fold_param(f, addr.params, "expires");
    fold_param(f, addr.params, "q");
  });

  // Route / Record-Route.
  fold_addr_hdrs(f, msg, SIP_HDR_ROUTE);
  fold_addr_hdrs(f, msg, SIP_HDR_RECORD_ROUTE);

  // Numeric headers (cached by sip_msg_decode, converted on access).
  f.num(pl_isset(&msg->maxfwd) ? pl_u32(&msg->maxfwd) : 0xffffffffU);
  f.num(pl_isset(&msg->clen) ? pl_u32(&msg->clen) : 0xffffffffU);
  f.num(pl_isset(&msg->expires) ? pl_u32(&msg->expires) : 0xffffffffU);
  if (const struct sip_hdr* me = sip_msg_hdr(msg, SIP_HDR_MIN_EXPIRES)) {
    f.num(pl_u32(&me->val));
  }

  // Content-Type (decoded by sip_msg_decode).
  fold_pl(f, msg->ctyp.type);
  fold_pl(f, msg->ctyp.subtype);

  // Token lists and free-text headers.
  fold_value_hdrs(f, msg, SIP_HDR_ALLOW);
  fold_value_hdrs(f, msg, SIP_HDR_SUPPORTED);
  fold_value_hdrs(f, msg, SIP_HDR_REQUIRE);
  fold_value_hdrs(f, msg, SIP_HDR_USER_AGENT);
  fold_value_hdrs(f, msg, SIP_HDR_SERVER);

  // Authentication headers.
  fold_challenges(f, msg, SIP_HDR_WWW_AUTHENTICATE);
  fold_challenges(f, msg, SIP_HDR_PROXY_AUTHENTICATE);
  fold_credentials(f, msg, SIP_HDR_AUTHORIZATION);
  fold_credentials(f, msg, SIP_HDR_PROXY_AUTHORIZATION);

  // Body: sip_msg_decode leaves msg->mb positioned at the payload.
  {
    const std::size_t blen = mbuf_get_left(msg->mb);
    f.num(blen);
    f.num(blen != 0 ? mbuf_buf(msg->mb)[0] : 0U);
  }

  const std::uint64_t result = f.result();
  mem_deref(msg);
  return result;
}

}  // namespace sipvoice::bench
