// Cuts a reply that arrives token by token into sentences, so that each goes to speech synthesis as
// soon as it is complete while the model is still writing the next one.
//
// A sentence ends at . ! ? or ; followed by white space, or at a line break (not at a colon: "Result:"
// alone would be read as a sentence of its own). Not at a period
// inside a number ("3.5"), after a one-letter initial or a common abbreviation ("Dr.", "e.g."), or
// at ellipsis dots that run on. Markdown the model was told not to write is removed anyway (*, #, `,
// list bullets at a line start): it must not be read out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sipvoice::agent {

class sentence_splitter {
public:
    // Adds text; returns the sentences it completed (trimmed, non-empty).
    std::vector<std::string> feed(std::string_view text);
    // The rest (at the end of the reply), trimmed; empty when nothing is left.
    std::string flush();

private:
    std::string pending_;
    std::size_t scanned_ = 0;  // pending_[0, scanned_) has no sentence end
};

// Drops markdown emphasis, headings, code marks and bullets; collapses white space.
std::string speakable(std::string_view text);

}  // namespace sipvoice::agent
