// Dialogs (RFC 3261 §12).
#include "sipvoice/ua/dialog.hpp"

#include <algorithm>

#include "../sip/charset.hpp"
#include "sipvoice/sip/name_addr.hpp"

namespace sipvoice::ua {
namespace {

// A From/To value without its tag: what the dialog's local and remote URIs are (§12.1.1).
std::string without_tag(const sip::name_addr& na) {
    std::string out;
    if (!na.display_name.empty()) {
        out.append(na.display_name);
        out += ' ';
    }
    out += '<';
    out.append(na.address.text);
    out += '>';
    for (const sip::param& p : na.params) {
        if (sip::detail::iequals(p.name, "tag")) continue;
        out += ';';
        out.append(p.name);
        if (p.has_value) {
            out += '=';
            out.append(p.value);
        }
    }
    return out;
}

// The remote target from a Contact, as a Request-URI may carry it (without URI headers).
std::optional<std::string> first_contact_uri(const sip::message& m) {
    for (auto c : m.contacts()) {
        if (!c || c->star) return std::nullopt;
        return std::string(sip::without_headers(c->address.address));
    }
    return std::nullopt;
}

std::vector<std::string> record_route(const sip::message& m) {
    std::vector<std::string> out;
    for (auto rr : m.record_routes())
        if (rr) out.emplace_back(rr->text);
    return out;
}

bool is_target_refresh(std::string_view method) { return method == "INVITE" || method == "UPDATE"; }

}  // namespace

std::optional<dialog_id> dialog_id_of(const sip::message& m) {
    auto call_id = m.call_id();
    auto from = m.from();
    auto to = m.to();
    if (!call_id || !from || !to) return std::nullopt;
    if (m.is_request()) return dialog_id{std::string(*call_id), std::string(to->tag()), std::string(from->tag())};
    return dialog_id{std::string(*call_id), std::string(from->tag()), std::string(to->tag())};
}

std::optional<dialog> dialog::for_uas(const sip::message& request, std::string local_tag, std::string local_contact) {
    auto call_id = request.call_id();
    auto from = request.from();
    auto to = request.to();
    auto cseq = request.cseq();
    auto target = first_contact_uri(request);
    if (!call_id || !from || !to || !cseq || !target || local_tag.empty()) return std::nullopt;
    dialog d;
    d.uac_ = false;
    d.id_ = {std::string(*call_id), std::move(local_tag), std::string(from->tag())};
    d.remote_seq_ = cseq->number;
    d.local_uri_ = without_tag(*to);
    d.remote_uri_ = without_tag(*from);
    d.remote_target_ = *target;
    d.local_contact_ = std::move(local_contact);
    d.route_set_ = record_route(request);  // §12.1.1: in the order of the request
    d.secure_ = request.request_uri().scheme == sip::uri_scheme::sips;
    return d;
}

std::optional<dialog> dialog::for_uac(const sip::message& request, const sip::message& response) {
    auto call_id = request.call_id();
    auto from = request.from();
    auto to = response.to();
    auto cseq = request.cseq();
    const int status = response.status();
    if (!call_id || !from || !to || !cseq || to->tag().empty() || status <= 100 || status >= 300) return std::nullopt;
    auto target = first_contact_uri(response);
    if (!target) return std::nullopt;
    dialog d;
    d.uac_ = true;
    d.early_ = status < 200;
    d.id_ = {std::string(*call_id), std::string(from->tag()), std::string(to->tag())};
    d.local_seq_ = cseq->number;
    d.local_uri_ = without_tag(*from);
    d.remote_uri_ = without_tag(*to);
    d.remote_target_ = *target;
    if (auto contact = request.contacts().front()) d.local_contact_ = std::string(contact->address.text);
    d.route_set_ = record_route(response);
    std::reverse(d.route_set_.begin(), d.route_set_.end());  // §12.1.2: reversed at the UAC
    d.secure_ = request.request_uri().scheme == sip::uri_scheme::sips;
    return d;
}

void dialog::confirm(const sip::message& response_2xx) {
    if (!early_) return;
    early_ = false;
    if (!uac_) return;
    // §12.1: the 2xx may carry another Record-Route and Contact than the provisional response did.
    route_set_ = record_route(response_2xx);
    std::reverse(route_set_.begin(), route_set_.end());
    if (auto target = first_contact_uri(response_2xx)) remote_target_ = *target;
}

sip::message_builder dialog::request(std::string_view method, std::string_view via, std::uint32_t cseq) {
    std::string request_uri = remote_target_;
    std::vector<std::string> routes = route_set_;
    if (!route_set_.empty()) {
        auto first = sip::parse_name_addr(route_set_.front());
        if (first && !first->address.lr()) {
            // §12.2.1.1 strict routing: the first route becomes the Request-URI and the remote target
            // goes last in the Route header.
            request_uri = std::string(first->address.text);
            routes.erase(routes.begin());
            routes.push_back("<" + remote_target_ + ">");
        }
    }
    if (cseq == 0) cseq = ++local_seq_;
    sip::message_builder b = sip::message_builder::request(method, request_uri);
    b.add(sip::header_id::via, via)
        .add(sip::header_id::max_forwards, "70")
        .add(sip::header_id::from, local_uri_ + ";tag=" + id_.local_tag)
        .add(sip::header_id::to, remote_uri_ + (id_.remote_tag.empty() ? "" : ";tag=" + id_.remote_tag))
        .add(sip::header_id::call_id, id_.call_id)
        .add(sip::header_id::cseq, std::to_string(cseq) + " " + std::string(method));
    for (const std::string& r : routes) b.add(sip::header_id::route, r);
    return b;
}

std::string dialog::next_hop() const {
    if (!route_set_.empty())
        if (auto first = sip::parse_name_addr(route_set_.front())) return std::string(first->address.text);
    return remote_target_;
}

dialog::check dialog::on_request(const sip::message& request) {
    auto id = dialog_id_of(request);
    if (!id || id->call_id != id_.call_id || id->local_tag != id_.local_tag || id->remote_tag != id_.remote_tag)
        return check::not_this_dialog;
    auto cseq = request.cseq();
    if (!cseq) return check::not_this_dialog;
    const std::string_view method = request.method_name();
    // ACK and CANCEL repeat the INVITE's number; they do not advance the remote sequence.
    if (method != "ACK" && method != "CANCEL") {
        if (remote_seq_ && cseq->number < *remote_seq_) return check::out_of_order;
        remote_seq_ = cseq->number;
    }
    if (is_target_refresh(method))
        if (auto target = first_contact_uri(request)) remote_target_ = *target;
    return check::ok;
}

void dialog::on_target_refresh_response(const sip::message& response_2xx) {
    if (response_2xx.status() < 200 || response_2xx.status() >= 300) return;
    if (auto target = first_contact_uri(response_2xx)) remote_target_ = *target;
}

}  // namespace sipvoice::ua
