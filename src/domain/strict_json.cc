#include "domain/strict_json.h"

#include <cstdint>
#include <exception>
#include <unordered_set>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

namespace prism::domain {

namespace json = boost::json;

namespace {

// A basic_parser handler that builds the value on a json::value_stack, as json::parser does, and
// fails on a repeated key. Each open object gets an ordinal, and one hash set for the whole
// document stores (ordinal, key) pairs. So the check costs O(1) per key, also in huge objects.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack stack;
  bool duplicate_key = false;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open_objects_.push_back(next_object_++);
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code&) {
    open_objects_.pop_back();
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    stack.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    if (!RememberKey()) {
      duplicate_key = true;
      ec = json::error::syntax;
      return false;
    }
    stack.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  // Records the completed key of the innermost open object; false when it was already there.
  bool RememberKey() {
    std::string entry(reinterpret_cast<const char*>(&open_objects_.back()), sizeof(uint64_t));
    entry += key_;
    key_.clear();
    return seen_keys_.insert(std::move(entry)).second;
  }

  std::vector<uint64_t> open_objects_;
  uint64_t next_object_ = 0;
  std::string key_;
  std::unordered_set<std::string> seen_keys_;
};

}  // namespace

std::optional<json::value> ParseStrictJson(std::string_view text, std::size_t max_depth,
                                           std::string* error) {
  try {
    json::parse_options options;
    options.max_depth = max_depth;
    json::basic_parser<StrictHandler> parser(options);
    parser.handler().stack.reset();

    json::error_code code;
    std::size_t used = parser.write_some(false, text.data(), text.size(), code);
    if (!code && used < text.size()) code = json::error::extra_data;
    if (code) {
      *error = parser.handler().duplicate_key ? "duplicate key in object" : code.message();
      return std::nullopt;
    }
    return parser.handler().stack.release();
  } catch (const std::exception& e) {
    // Only allocation failures reach here: the handler and basic_parser report errors by code.
    *error = e.what();
    return std::nullopt;
  }
}

}  // namespace prism::domain
