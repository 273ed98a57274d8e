// Error descriptions and the std::error_category of the sip/ layer.
#include "sipvoice/sip/error.hpp"

#include <string>

namespace sipvoice::sip {

std::string_view describe(errc code) noexcept {
    switch (code) {
        case errc::ok: return "no error";
        case errc::empty_message: return "empty message";
        case errc::no_end_of_headers: return "header section not terminated by an empty line";
        case errc::bad_start_line: return "malformed start line";
        case errc::bad_method: return "method is not a token";
        case errc::bad_request_uri: return "malformed Request-URI";
        case errc::bad_version: return "malformed SIP version";
        case errc::bad_status_code: return "status code is not three digits in 100..699";
        case errc::bad_reason_phrase: return "control character in reason phrase";
        case errc::bad_header_name: return "header name is not a token";
        case errc::missing_colon: return "header line without ':'";
        case errc::bad_header_value: return "malformed header value";
        case errc::unterminated_quote: return "unterminated quoted string";
        case errc::bad_uri: return "malformed URI";
        case errc::bad_host: return "malformed host";
        case errc::bad_port: return "malformed port";
        case errc::bad_param: return "malformed parameter";
        case errc::bad_escape: return "malformed %-escape";
        case errc::bad_number: return "expected a number";
        case errc::number_too_large: return "number too large";
        case errc::bad_display_name: return "malformed display name";
        case errc::bad_list: return "empty element in a list";
        case errc::missing_header: return "missing required header";
        case errc::duplicate_header: return "header allowed once appears more than once";
        case errc::bad_content_length: return "invalid Content-Length";
        case errc::content_length_mismatch: return "Content-Length larger than the message body";
        case errc::header_too_large: return "header section too large";
        case errc::body_too_large: return "body too large";
        case errc::message_too_large: return "message too large";
        case errc::bad_date: return "Date is not an RFC 1123 date in GMT";
        case errc::cseq_method_mismatch: return "CSeq method differs from the request method";
    }
    return "unknown error";
}

namespace {
class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "sip"; }
    std::string message(int ev) const override { return std::string(describe(static_cast<errc>(ev))); }
};
}  // namespace

const std::error_category& sip_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace sipvoice::sip
