// Benchmark peer: GNU oSIP2 (libosipparser2).
//
// osip_message_parse() parses the start line and every known header eagerly
// into osip_* structures; other headers (Max-Forwards, Expires, Supported,
// User-Agent, ...) are kept as name/value pairs in sip->headers and are looked
// up with osip_message_header_get_byname(), which is how an osip user reads
// them.
#include "peers.hpp"
#include "fold.hpp"

#include <cstdarg>
#include <cstring>
#include <mutex>

#include <osipparser2/osip_parser.h>

namespace sipvoice::bench {

namespace detail {
void sofia_init_once();
void re_init_once();
}  // namespace detail

namespace {

// osip's lookup functions take non-const char* names.
char kBranch[] = "branch";
char kReceived[] = "received";
char kRport[] = "rport";
char kTag[] = "tag";
char kExpires[] = "expires";
char kQ[] = "q";

std::once_flag g_osip_once;

void osip_trace_sink(const char* /*file*/, int /*line*/,
                     osip_trace_level_t /*level*/, const char* /*fmt*/,
                     va_list /*ap*/) {}

void osip_init_once() {
  std::call_once(g_osip_once, [] {
    parser_init();
    // Debian's libosipparser2 is built with tracing on and, left
    // uninitialised, prints every parse error to stdout. Route traces to a
    // no-op sink and disable all levels so rejected inputs don't time printf.
    osip_trace_initialize_func(OSIP_FATAL, &osip_trace_sink);
    for (int level = 0; level < END_TRACE_LEVEL; ++level) {
      osip_trace_disable_level(static_cast<osip_trace_level_t>(level));
    }
  });
}

void fold_uri(Fold& f, const osip_uri_t* uri) {
  if (uri == nullptr) {
    f.num(0);
    return;
  }
  f.str(uri->scheme);
  f.str(uri->username);
  f.str(uri->host);
  f.str(uri->port);
}

// From / To / Contact / Route / Record-Route all share osip_from_t.
void fold_name_addr(Fold& f, osip_from_t* a) {
  if (a == nullptr) {
    f.num(0);
    return;
  }
  f.str(a->displayname);
  fold_uri(f, a->url);
}

void fold_param(Fold& f, osip_generic_param_t* p) {
  f.str(p != nullptr ? p->gvalue : nullptr);
}

void fold_generic(Fold& f, const osip_message_t* sip, const char* name) {
  osip_header_t* h = nullptr;
  for (int pos = 0;; ++pos) {
    pos = osip_message_header_get_byname(sip, name, pos, &h);
    if (pos < 0 || h == nullptr) break;
    f.str(h->hvalue);
  }
}

void fold_challenge(Fold& f, const osip_www_authenticate_t* a) {
  f.str(a->auth_type);
  f.str(a->realm);
  f.str(a->nonce);
  f.str(a->algorithm);
  f.str(a->qop_options);
}

void fold_credentials(Fold& f, const osip_authorization_t* a) {
  f.str(a->auth_type);
  f.str(a->username);
  f.str(a->realm);
  f.str(a->nonce);
  f.str(a->uri);
  f.str(a->response);
}

void fold_route_list(Fold& f, const osip_list_t* list) {
  const int n = osip_list_size(list);
  f.num(static_cast<std::uint64_t>(n));
  for (int i = 0; i < n; ++i) {
    fold_name_addr(f, static_cast<osip_from_t*>(osip_list_get(list, i)));
  }
}

}  // namespace

void peers_init() {
  osip_init_once();
  detail::sofia_init_once();
  detail::re_init_once();
}

std::uint64_t parse_osip(const char* data, std::size_t len) {
  osip_init_once();

  osip_message_t* sip = nullptr;
  if (osip_message_init(&sip) != 0) return 0;
  if (osip_message_parse(sip, data, len) != 0) {
    osip_message_free(sip);
    return 0;
  }

  Fold f;

  // Start line.
  if (MSG_IS_REQUEST(sip)) {
    f.str(sip->sip_method);
    fold_uri(f, sip->req_uri);
  } else {
    f.num(static_cast<std::uint64_t>(sip->status_code));
    f.str(sip->reason_phrase);
  }

  // Via (every entry).
  {
    osip_via_t* via = nullptr;
    for (int i = 0; osip_message_get_via(sip, i, &via) >= 0; ++i) {
      f.str(via->protocol);
      f.str(via->host);
      f.str(via->port);
      osip_generic_param_t* p = nullptr;
      osip_via_param_get_byname(via, kBranch, &p);
      fold_param(f, p);
      p = nullptr;
      osip_via_param_get_byname(via, kReceived, &p);
      fold_param(f, p);
      p = nullptr;
      osip_via_param_get_byname(via, kRport, &p);
      fold_param(f, p);
    }
  }

  // From / To.
  for (osip_from_t* a : {osip_message_get_from(sip), osip_message_get_to(sip)}) {
    fold_name_addr(f, a);
    if (a != nullptr) {
      osip_generic_param_t* tag = nullptr;
      osip_from_param_get_byname(a, kTag, &tag);
      fold_param(f, tag);
    }
  }

  // Call-ID / CSeq.
  if (const osip_call_id_t* cid = osip_message_get_call_id(sip)) {
    f.str(cid->number);
    f.str(cid->host);
  }
  if (const osip_cseq_t* cseq = osip_message_get_cseq(sip)) {
    f.str(cseq->number);
    f.str(cseq->method);
  }

  // Contact (every entry).
  {
    osip_contact_t* c = nullptr;
    for (int i = 0; osip_message_get_contact(sip, i, &c) >= 0; ++i) {
      fold_name_addr(f, c);
      osip_generic_param_t* p = nullptr;
      osip_contact_param_get_byname(c, kExpires, &p);
      fold_param(f, p);
      p = nullptr;
      osip_contact_param_get_byname(c, kQ, &p);
      fold_param(f, p);
    }
  }

  // Route / Record-Route.
  fold_route_list(f, &sip->routes);
  fold_route_list(f, &sip->record_routes);

  // Content-Length / Content-Type.
  if (const osip_content_length_t* cl = osip_message_get_content_length(sip)) {
    f.str(cl->value);
  }
  if (const osip_content_type_t* ct = osip_message_get_content_type(sip)) {
    f.str(ct->type);
    f.str(ct->subtype);
  }

  // Allow: osip splits the list into osip_allow_t entries.
  {
    osip_allow_t* al = nullptr;
    for (int i = 0; osip_message_get_allow(sip, i, &al) >= 0; ++i) {
      f.str(al->value);
    }
  }

  // Headers osip keeps as generic name/value pairs (one entry per
  // comma-separated element for list headers such as Supported).
  fold_generic(f, sip, "max-forwards");
  fold_generic(f, sip, "expires");
  fold_generic(f, sip, "min-expires");
  fold_generic(f, sip, "supported");
  fold_generic(f, sip, "require");
  fold_generic(f, sip, "user-agent");
  fold_generic(f, sip, "server");

  // Authentication headers.
  {
    osip_www_authenticate_t* w = nullptr;
    for (int i = 0; osip_message_get_www_authenticate(sip, i, &w) >= 0; ++i) {
      fold_challenge(f, w);
    }
    osip_proxy_authenticate_t* pa = nullptr;
    for (int i = 0; osip_message_get_proxy_authenticate(sip, i, &pa) >= 0;
         ++i) {
      fold_challenge(f, pa);
    }
    osip_authorization_t* au = nullptr;
    for (int i = 0; osip_message_get_authorization(sip, i, &au) >= 0; ++i) {
      fold_credentials(f, au);
    }
    osip_proxy_authorization_t* pz = nullptr;
    for (int i = 0; osip_message_get_proxy_authorization(sip, i, &pz) >= 0;
         ++i) {
      fold_credentials(f, pz);
    }
  }

  // Body.
  {
    osip_body_t* body = nullptr;
    for (int i = 0; osip_message_get_body(sip, i, &body) >= 0; ++i) {
      f.num(body->length);
      f.num(body->length != 0 ? static_cast<unsigned char>(body->body[0])
                              : 0U);
    }
  }

  const std::uint64_t result = f.result();
  osip_message_free(sip);
  return result;
}

}  // namespace sipvoice::bench
