#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace prism::metrics {
namespace {

bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (letter || (digit && i > 0) || (allow_colon && c == ':')) continue;
    return false;
  }
  return true;
}

void AppendNumber(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
  }
}

void AppendNumber(std::string& out, uint64_t value) {
  char buffer[24];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Appends `{a="x",b="y"}` (with an optional extra label such as `le`), or nothing when there
// are no labels at all.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const LabelValues& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

template <typename Metric>
std::unique_ptr<Metric> MakeSeries(const std::vector<double>& upper_bounds) {
  if constexpr (std::is_same_v<Metric, Histogram>) {
    return std::make_unique<Histogram>(upper_bounds);
  } else {
    return std::make_unique<Metric>();
  }
}

void RenderSeries(std::string& out, const std::string& name, const std::vector<std::string>& names,
                  const LabelValues& values, const Counter& counter) {
  out += name;
  AppendLabels(out, names, values);
  out.push_back(' ');
  AppendNumber(out, counter.Value());
  out.push_back('\n');
}

void RenderSeries(std::string& out, const std::string& name, const std::vector<std::string>& names,
                  const LabelValues& values, const Gauge& gauge) {
  out += name;
  AppendLabels(out, names, values);
  out.push_back(' ');
  AppendNumber(out, gauge.Value());
  out.push_back('\n');
}

void RenderSeries(std::string& out, const std::string& name, const std::vector<std::string>& names,
                  const LabelValues& values, const Histogram& histogram) {
  Histogram::Snapshot snapshot = histogram.Read();
  const std::vector<double>& bounds = histogram.upper_bounds();
  for (size_t i = 0; i <= bounds.size(); ++i) {
    std::string bound;
    AppendNumber(bound, i < bounds.size() ? bounds[i] : INFINITY);
    out += name;
    out += "_bucket";
    AppendLabels(out, names, values, "le", bound);
    out.push_back(' ');
    AppendNumber(out, snapshot.cumulative_counts[i]);
    out.push_back('\n');
  }
  out += name;
  out += "_sum";
  AppendLabels(out, names, values);
  out.push_back(' ');
  AppendNumber(out, snapshot.sum);
  out.push_back('\n');
  out += name;
  out += "_count";
  AppendLabels(out, names, values);
  out.push_back(' ');
  AppendNumber(out, snapshot.count);
  out.push_back('\n');
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (!std::isfinite(upper_bounds_[i]) || (i > 0 && upper_bounds_[i] <= upper_bounds_[i - 1])) {
      throw std::invalid_argument("histogram bucket bounds must be finite and strictly increasing");
    }
  }
  bucket_counts_ = std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1);
}

void Histogram::Observe(double value) {
  auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  size_t index = static_cast<size_t>(bucket - upper_bounds_.begin());
  bucket_counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.cumulative_counts.resize(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += bucket_counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts[i] = running;
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> upper_bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {}

template <typename Metric>
Metric& Family<Metric>::WithLabels(const LabelValues& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " expects " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(values.size()));
  }
  std::lock_guard lock(mutex_);
  auto it = series_.find(values);
  if (it == series_.end()) {
    it = series_.emplace(values, MakeSeries<Metric>(upper_bounds_)).first;
  }
  return *it->second;
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(std::initializer_list<std::string_view> values) {
  return WithLabels(LabelValues(values.begin(), values.end()));
}

template <typename Metric>
void Family<Metric>::Render(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    RenderSeries(out, name_, label_names_, values, *series);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry& Registry::Default() {
  static Registry* registry = new Registry();  // never destroyed: used until exit
  return *registry;
}

Registry::Entry& Registry::FindOrAdd(MetricType type, const std::string& name,
                                     const std::string& help,
                                     const std::vector<std::string>& label_names,
                                     std::vector<double> upper_bounds) {
  if (!IsValidName(name, true)) throw std::invalid_argument("invalid metric name: " + name);
  for (const std::string& label : label_names) {
    if (!IsValidName(label, false) || label.starts_with("__") || label == "le") {
      throw std::invalid_argument("invalid label name " + label + " in metric " + name);
    }
  }

  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    Entry& entry = it->second;
    const std::vector<std::string>* existing_labels =
        entry.counters ? &entry.counters->label_names()
        : entry.gauges ? &entry.gauges->label_names()
                       : &entry.histograms->label_names();
    if (entry.type != type || *existing_labels != label_names) {
      throw std::invalid_argument("metric " + name +
                                  " is already registered with another type or other labels");
    }
    return entry;
  }

  Entry entry{type, nullptr, nullptr, nullptr};
  switch (type) {
    case MetricType::kCounter:
      entry.counters = std::make_unique<CounterFamily>(name, help, label_names);
      break;
    case MetricType::kGauge:
      entry.gauges = std::make_unique<GaugeFamily>(name, help, label_names);
      break;
    case MetricType::kHistogram:
      Histogram validate(upper_bounds);  // throws on invalid bounds before anything is stored
      entry.histograms =
          std::make_unique<HistogramFamily>(name, help, label_names, std::move(upper_bounds));
      break;
  }
  return families_.emplace(name, std::move(entry)).first->second;
}

CounterFamily& Registry::AddCounter(const std::string& name, const std::string& help,
                                    const std::vector<std::string>& label_names) {
  return *FindOrAdd(MetricType::kCounter, name, help, label_names, {}).counters;
}

GaugeFamily& Registry::AddGauge(const std::string& name, const std::string& help,
                                const std::vector<std::string>& label_names) {
  return *FindOrAdd(MetricType::kGauge, name, help, label_names, {}).gauges;
}

HistogramFamily& Registry::AddHistogram(const std::string& name, const std::string& help,
                                        const std::vector<std::string>& label_names,
                                        std::vector<double> upper_bounds) {
  return *FindOrAdd(MetricType::kHistogram, name, help, label_names, std::move(upper_bounds))
              .histograms;
}

std::string Registry::RenderPrometheus() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, entry] : families_) {
    const std::string& help = entry.counters ? entry.counters->help()
                              : entry.gauges ? entry.gauges->help()
                                             : entry.histograms->help();
    out += "# HELP " + name + " " + EscapeHelp(help) + "\n";
    out += "# TYPE " + name + " " + TypeName(entry.type) + "\n";
    if (entry.counters) entry.counters->Render(out);
    if (entry.gauges) entry.gauges->Render(out);
    if (entry.histograms) entry.histograms->Render(out);
  }
  return out;
}

std::string RenderPrometheus() { return Registry::Default().RenderPrometheus(); }

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace prism::metrics
