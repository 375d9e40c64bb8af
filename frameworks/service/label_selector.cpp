#include "frameworks/service/label_selector.hpp"

#include <algorithm>
#include <cctype>

namespace stoa::service {
namespace {

class Reader {
 public:
  explicit Reader(const std::string& text) : text_(text) {}

  void SkipSpaces() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  bool AtEnd() {
    SkipSpaces();
    return at_ >= text_.size();
  }
  bool Take(const std::string& token) {
    SkipSpaces();
    if (text_.compare(at_, token.size(), token) != 0) return false;
    at_ += token.size();
    return true;
  }
  // A word of the selector alphabet (escapes resolved); empty when none is here.
  std::string Word() {
    SkipSpaces();
    std::string word;
    while (at_ < text_.size()) {
      char c = text_[at_];
      if (c == '\\' && at_ + 1 < text_.size()) {
        word += text_[at_ + 1];
        at_ += 2;
      } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
        word += c;
        ++at_;
      } else {
        break;
      }
    }
    return word;
  }
  // "in" and "notin" are words too: true when the next word is `keyword`
  // followed by a space or '('.
  bool Keyword(const std::string& keyword) {
    SkipSpaces();
    if (text_.compare(at_, keyword.size(), keyword) != 0) return false;
    size_t after = at_ + keyword.size();
    if (after < text_.size() &&
        (std::isspace(static_cast<unsigned char>(text_[after])) || text_[after] == '(')) {
      at_ = after;
      return true;
    }
    return false;
  }
  size_t at() const { return at_; }

 private:
  const std::string& text_;
  size_t at_ = 0;
};

Status Problem(const std::string& text, size_t at, const std::string& what) {
  return Status::Error("cannot read the label selector '" + text + "' at character " +
                       std::to_string(at + 1) + ": " + what);
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(const std::string& text) {
  LabelSelector selector;
  Reader reader(text);
  while (true) {
    Term term;
    term.key = reader.Word();
    if (term.key.empty()) return Problem(text, reader.at(), "expected a label name");
    if (reader.Take("==")) {
      term.kind = Term::Kind::kEquals;
      term.values = {reader.Word()};
    } else if (reader.Take("!=")) {
      term.kind = Term::Kind::kNotEquals;
      term.values = {reader.Word()};
    } else if (bool notin = reader.Keyword("notin"); notin || reader.Keyword("in")) {
      term.kind = notin ? Term::Kind::kNotIn : Term::Kind::kIn;
      if (!reader.Take("(")) return Problem(text, reader.at(), "expected '(' after in/notin");
      while (true) {
        std::string value = reader.Word();
        if (value.empty()) return Problem(text, reader.at(), "expected a value");
        term.values.push_back(value);
        if (reader.Take(")")) break;
        if (!reader.Take(",")) return Problem(text, reader.at(), "expected ',' or ')'");
      }
    }
    selector.terms_.push_back(std::move(term));
    if (reader.AtEnd()) break;
    if (!reader.Take(",")) return Problem(text, reader.at(), "expected ',' between selectors");
  }
  return selector;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& term : terms_) {
    auto it = labels.find(term.key);
    if (it == labels.end()) return false;
    bool listed =
        std::find(term.values.begin(), term.values.end(), it->second) != term.values.end();
    switch (term.kind) {
      case Term::Kind::kExists:
        break;
      case Term::Kind::kEquals:
      case Term::Kind::kIn:
        if (!listed) return false;
        break;
      case Term::Kind::kNotEquals:
      case Term::Kind::kNotIn:
        if (listed) return false;
        break;
    }
  }
  return true;
}

}  // namespace stoa::service
