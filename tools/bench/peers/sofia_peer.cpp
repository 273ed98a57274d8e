// Benchmark peer: Sofia-SIP (libsofia-sip-ua), msg/sip parser.
//
// msg_make() copies the buffer into a fresh msg_t, runs the SIP parser over
// the start line, every header and the payload, and leaves the result in the
// sip_t returned by sip_object(). Headers known to the default mclass are
// decoded into their typed structures during that extraction; unknown ones
// (e.g. P-Asserted-Identity) end up in sip->sip_unknown.
#include "peers.hpp"
#include "fold.hpp"

#include <cstring>
#include <mutex>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su.h>

namespace sipvoice::bench {

namespace {

std::once_flag g_sofia_once;

void fold_url(Fold& f, const url_t* u) {
  f.str(u->url_scheme);
  f.str(u->url_user);
  f.str(u->url_host);
  f.str(u->url_port);
}

void fold_items(Fold& f, msg_param_t const* items) {
  if (items == nullptr) {
    f.num(0);
    return;
  }
  for (; *items != nullptr; ++items) f.str(*items);
}

void fold_auth(Fold& f, const msg_auth_t* a) {
  for (; a != nullptr; a = a->au_next) {
    f.str(a->au_scheme);
    f.str(msg_params_find(a->au_params, "realm="));
    f.str(msg_params_find(a->au_params, "nonce="));
  }
}

void fold_routes(Fold& f, const sip_route_t* r) {
  for (; r != nullptr; r = r->r_next) fold_url(f, r->r_url);
}

}  // namespace

namespace detail {
void sofia_init_once() {
  std::call_once(g_sofia_once, [] {
    su_init();
    (void)sip_default_mclass();
  });
}
}  // namespace detail

std::uint64_t parse_sofia(const char* data, std::size_t len) {
  detail::sofia_init_once();
  if (len == 0) return 0;

  msg_t* msg = msg_make(sip_default_mclass(), 0, data,
                        static_cast<ssize_t>(len));
  if (msg == nullptr) return 0;

  const sip_t* sip = sip_object(msg);
  if (sip == nullptr || msg_has_error(msg) ||
      (sip->sip_request == nullptr && sip->sip_status == nullptr)) {
    msg_destroy(msg);
    return 0;
  }

  Fold f;

  // Start line.
  if (const sip_request_t* rq = sip->sip_request) {
    f.str(rq->rq_method_name);
    fold_url(f, rq->rq_url);
  } else {
    f.num(static_cast<std::uint64_t>(sip->sip_status->st_status));
    f.str(sip->sip_status->st_phrase);
  }

  // Via (every entry).
  for (const sip_via_t* v = sip->sip_via; v != nullptr; v = v->v_next) {
    f.str(v->v_protocol);
    f.str(v->v_host);
    f.str(v->v_port);
    f.str(v->v_branch);
    f.str(v->v_received);
    f.str(v->v_rport);
  }

  // From / To.
  for (const sip_addr_t* a : {sip->sip_from, sip->sip_to}) {
    if (a == nullptr) {
      f.num(0);
      continue;
    }
    f.str(a->a_display);
    fold_url(f, a->a_url);
    f.str(a->a_tag);
  }

  // Call-ID / CSeq.
  if (const sip_call_id_t* cid = sip->sip_call_id) f.str(cid->i_id);
  if (const sip_cseq_t* cs = sip->sip_cseq) {
    f.num(cs->cs_seq);
    f.str(cs->cs_method_name);
  }

  // Contact (every entry).
  for (const sip_contact_t* m = sip->sip_contact; m != nullptr;
       m = m->m_next) {
    f.str(m->m_display);
    fold_url(f, m->m_url);
    f.str(m->m_expires);
    f.str(m->m_q);
  }

  // Route / Record-Route.
  fold_routes(f, sip->sip_route);
  fold_routes(f, sip->sip_record_route);

  // Numeric headers.
  if (sip->sip_max_forwards != nullptr) f.num(sip->sip_max_forwards->mf_count);
  if (sip->sip_content_length != nullptr) {
    f.num(sip->sip_content_length->l_length);
  }
  if (sip->sip_expires != nullptr) f.num(sip->sip_expires->ex_delta);
  if (sip->sip_min_expires != nullptr) f.num(sip->sip_min_expires->me_delta);

  // Content-Type.
  if (const sip_content_type_t* ct = sip->sip_content_type) {
    f.str(ct->c_type);
    f.str(ct->c_subtype);
  }

  // Token lists.
  for (const sip_allow_t* k = sip->sip_allow; k != nullptr;
       k = reinterpret_cast<const sip_allow_t*>(k->k_next)) {
    fold_items(f, k->k_items);
  }
  for (const sip_supported_t* k = sip->sip_supported; k != nullptr;
       k = k->k_next) {
    fold_items(f, k->k_items);
  }
  for (const sip_require_t* k = sip->sip_require; k != nullptr;
       k = k->k_next) {
    fold_items(f, k->k_items);
  }

  // Authentication headers.
  fold_auth(f, sip->sip_www_authenticate);
  fold_auth(f, sip->sip_proxy_authenticate);
  fold_auth(f, sip->sip_authorization);
  fold_auth(f, sip->sip_proxy_authorization);

  // User-Agent / Server.
  if (sip->sip_user_agent != nullptr) f.str(sip->sip_user_agent->g_string);
  if (sip->sip_server != nullptr) f.str(sip->sip_server->g_string);

  // Body.
  if (const sip_payload_t* pl = sip->sip_payload) {
    f.num(pl->pl_len);
    f.num(pl->pl_len != 0 ? static_cast<unsigned char>(pl->pl_data[0]) : 0U);
  }

  const std::uint64_t result = f.result();
  msg_destroy(msg);
  return result;
}

}  // namespace sipvoice::bench
