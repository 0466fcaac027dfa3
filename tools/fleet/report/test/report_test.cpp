#define BOOST_TEST_MODULE fleet_report
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <rapidjson/document.h>

#include "report/report.hpp"
#include "synthetic.hpp"

namespace fs = std::filesystem;
using phx::fleet::render_report;
using phx::fleet::test::run;
using phx::fleet::test::write_run;

namespace {

// test/chromium.js opens the reports left here (ctest fixture phx_fleet_report_runs).
const fs::path runs{PHX_REPORT_RUNS};

std::string slurp(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void spit(const fs::path& file, const std::string& text) {
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out << text;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto i = text.find(what); i != std::string::npos; i = text.find(what, i + 1))
    ++n;
  return n;
}

/// The data island of a report, parsed.
rapidjson::Document data_of(const std::string& html) {
  const std::string open = R"(<script type="application/json" id="phx-data">)";
  auto begin = html.find(open);
  BOOST_REQUIRE(begin != std::string::npos);
  begin += open.size();
  auto end = html.find("</script>", begin);
  BOOST_REQUIRE(end != std::string::npos);
  rapidjson::Document doc;
  doc.Parse(html.data() + begin, end - begin);
  BOOST_REQUIRE(!doc.HasParseError());
  return doc;
}

/// Writes a synthetic run into test-runs/<name> and renders its report.
std::string rendered(const std::string& name, run which) {
  const auto dir = runs / name;
  fs::remove_all(dir);
  write_run(dir.string(), which);
  BOOST_REQUIRE_EQUAL(render_report(dir.string()), "");
  return slurp(dir / "report.html");
}

/// A scratch run made from the full one, for the error cases.
fs::path scratch(const std::string& name) {
  const auto dir = runs / "scratch" / name;
  fs::remove_all(dir);
  write_run(dir.string(), run::full);
  return dir;
}

} // namespace

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(renders_a_full_run_into_one_self_contained_file) {
  const auto html = rendered("full", run::full);
  BOOST_CHECK_EQUAL(html.rfind("<!DOCTYPE html>", 0), 0u);
  BOOST_CHECK(html.find("<title>phx-fleet report: chat-room</title>") != std::string::npos);
  BOOST_CHECK(html.find("Chart.js v3.9") != std::string::npos);
  BOOST_CHECK(html.find("phxMarkers") != std::string::npos); // the page's own script
  BOOST_CHECK(html.find(".chart-box") != std::string::npos); // and its style
  // Nothing is fetched: no external script, stylesheet or image.
  BOOST_CHECK_EQUAL(count(html, "<script src"), 0u);
  BOOST_CHECK_EQUAL(count(html, "<link"), 0u);
  BOOST_CHECK_EQUAL(count(html, "<img"), 0u);
  BOOST_CHECK(!fs::exists(runs / "full" / "report.html.tmp"));
}

BOOST_AUTO_TEST_CASE(embeds_summary_and_series_as_columns) {
  const auto html = rendered("full", run::full);
  const auto data = data_of(html);
  const auto& summary = data["summary"];
  BOOST_CHECK_EQUAL(summary["scenario"].GetString(), std::string{"chat-room"});
  BOOST_CHECK_EQUAL(summary["exit_code"].GetInt(), 1);
  BOOST_CHECK_EQUAL(summary["thresholds"].Size(), 3u);
  BOOST_CHECK_EQUAL(summary["faults"][0]["kind"].GetString(), std::string{"kill_all"});
  BOOST_CHECK_GT(summary["push_histogram"].Size(), 100u);
  const auto& series = data["series"];
  BOOST_CHECK_EQUAL(series.MemberCount(), 16u);
  BOOST_REQUIRE_EQUAL(series["t_s"].Size(), 120u);
  BOOST_CHECK_EQUAL(series["t_s"][0].GetInt(), 1);
  BOOST_CHECK_EQUAL(series["users_joined"][59].GetInt(), 500);
  BOOST_CHECK_EQUAL(series["users_joined"][60].GetInt(), 0); // the server restart
  // An empty cell is no sample: null, not zero.
  BOOST_CHECK(series["push_p99_ms"][0].IsNull());
  BOOST_CHECK(series["push_p99_ms"][60].IsNull());
  BOOST_CHECK(series["push_p99_ms"][70].IsNumber());
}

BOOST_AUTO_TEST_CASE(renders_a_run_without_pushes) {
  const auto data = data_of(rendered("nopush", run::nopush));
  BOOST_CHECK(!data["summary"]["latency_ms"].HasMember("push"));
  BOOST_CHECK_EQUAL(data["summary"]["push_histogram"].Size(), 0u);
  BOOST_CHECK(data["series"]["push_p50_ms"][10].IsNull());
  BOOST_CHECK_EQUAL(data["series"]["t_s"].Size(), 30u);
}

BOOST_AUTO_TEST_CASE(renders_an_empty_run) {
  const auto data = data_of(rendered("empty", run::empty));
  BOOST_CHECK_EQUAL(data["summary"]["exit_code"].GetInt(), 3);
  BOOST_CHECK_EQUAL(data["series"]["t_s"].Size(), 0u);
  BOOST_CHECK_EQUAL(data["series"].MemberCount(), 16u);
}

BOOST_AUTO_TEST_CASE(renders_workers_of_part_2) {
  const auto data = data_of(rendered("workers", run::workers));
  BOOST_CHECK_EQUAL(data["summary"]["workers"].Size(), 3u);
  BOOST_CHECK_EQUAL(data["summary"]["respawned_users"].GetInt(), 300);
  // workers.csv rides along as workers_series: each worker's users and lag per second.
  BOOST_REQUIRE(data.HasMember("workers_series"));
  BOOST_CHECK_EQUAL(data["workers_series"]["t_s"].Size(), 40u);
  BOOST_CHECK(data["workers_series"].HasMember("w2_users"));
  BOOST_CHECK(data["workers_series"]["w2_users"][30].IsNull()); // w2 was lost at 25 s
}

BOOST_AUTO_TEST_CASE(data_cannot_end_its_script_element) {
  // The workers run has an error kind "close 1011 </script><!-- injected".
  const auto html = rendered("workers", run::workers);
  // Three script elements end: the data, Chart.js, the page's script.
  BOOST_CHECK_EQUAL(count(html, "</script"), 3u);
  BOOST_CHECK_EQUAL(count(html, "<!--"), 1u); // the template's own comment
  const auto data = data_of(html);
  BOOST_CHECK(data["summary"]["errors"].HasMember("close 1011 </script><!-- injected"));
}

BOOST_AUTO_TEST_CASE(escapes_the_scenario_in_the_title) {
  const auto dir = scratch("title");
  auto summary = slurp(dir / "summary.json");
  summary.replace(summary.find("chat-room"), 9, "a <b>&amp; room");
  spit(dir / "summary.json", summary);
  BOOST_REQUIRE_EQUAL(render_report(dir.string()), "");
  BOOST_CHECK(slurp(dir / "report.html").find("<title>phx-fleet report: a &lt;b&gt;&amp;amp; room</title>")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(overwrites_an_earlier_report) {
  const auto dir = scratch("again");
  spit(dir / "report.html", "stale");
  BOOST_REQUIRE_EQUAL(render_report(dir.string()), "");
  BOOST_CHECK_EQUAL(slurp(dir / "report.html").rfind("<!DOCTYPE html>", 0), 0u);
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_an_error_naming_it) {
  const auto dir = scratch("missing");
  fs::remove(dir / "series.csv");
  auto err = render_report(dir.string());
  BOOST_CHECK_NE(err.find("series.csv"), std::string::npos);
  fs::remove(dir / "summary.json");
  err = render_report(dir.string());
  BOOST_CHECK_NE(err.find("summary.json"), std::string::npos);
  BOOST_CHECK(!fs::exists(dir / "report.html"));
}

BOOST_AUTO_TEST_CASE(a_summary_that_is_not_json_is_an_error) {
  const auto dir = scratch("not_json");
  spit(dir / "summary.json", R"({"scenario": "x",)");
  const auto err = render_report(dir.string());
  BOOST_CHECK_NE(err.find("summary.json: not JSON at offset"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_field_of_the_wrong_type_is_named_by_its_path) {
  const auto dir = scratch("wrong_type");
  auto check = [&](const std::string& summary, const std::string& expected) {
    spit(dir / "summary.json", summary);
    const auto err = render_report(dir.string());
    BOOST_CHECK_MESSAGE(err.find(expected) != std::string::npos, err << " lacks " << expected);
  };
  check(R"([1, 2])", "summary.json: expected a JSON object");
  check(R"({"latency_ms": {"push": {"p99": "9 ms"}}})", "latency_ms.push.p99: expected a number or null");
  check(R"({"thresholds": [{"name": "x", "met": 1}]})", "thresholds[0].met: expected true or false");
  check(R"({"faults": [{"at_s": "60"}]})", "faults[0].at_s: expected a number");
  check(R"({"push_histogram": [[1.0, 3], [2.0]]})", "push_histogram[1]: expected [bucket_upper_ms, count]");
  check(R"({"workers": [{"id": "w1", "lost_at": "soon"}]})", "workers[0].lost_at: expected a number or null");
}

BOOST_AUTO_TEST_CASE(a_minimal_summary_renders) {
  const auto dir = scratch("minimal");
  spit(dir / "summary.json", "{}");
  BOOST_CHECK_EQUAL(render_report(dir.string()), "");
}

BOOST_AUTO_TEST_CASE(a_bad_series_cell_is_named_by_line_and_column) {
  const auto dir = scratch("bad_series");
  auto series = slurp(dir / "series.csv");
  auto header = series.substr(0, series.find('\n') + 1);
  spit(dir / "series.csv", header + "1,0,0,0,0,0,0,0,0,0,1.5,2,abc,4,,\n");
  auto err = render_report(dir.string());
  BOOST_CHECK_NE(err.find("series.csv: line 2, column push_p99_ms: 'abc' is not a number"), std::string::npos);
  spit(dir / "series.csv", header + "1,0,0\n");
  err = render_report(dir.string());
  BOOST_CHECK_NE(err.find("series.csv: line 2: 3 cells, the header has 16"), std::string::npos);
  spit(dir / "series.csv", "");
  err = render_report(dir.string());
  BOOST_CHECK_NE(err.find("series.csv: no header line"), std::string::npos);
  // CRLF line ends are fine.
  spit(dir / "series.csv", "t_s,users_open\r\n1,10\r\n2,\r\n");
  BOOST_CHECK_EQUAL(render_report(dir.string()), "");
}

BOOST_AUTO_TEST_SUITE_END()
