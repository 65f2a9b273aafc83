"""Analysis against the token streams Elasticsearch gives for the same input.

Expected outputs come from Elasticsearch's analyzer reference pages (the "The 2 QUICK
Brown-Foxes..." examples), from Lucene's TestStandardAnalyzer (the StandardTokenizer
Elasticsearch runs) and from Elasticsearch's TransportAnalyzeActionTests."""

from __future__ import annotations

import random

import pytest
import regex
from uniseg.wordbreak import words

from strata_node.common.errors import ActionRequestValidation, IllegalArgument, IllegalState, SettingsError
from strata_node.common.errors import XContentParseError as XContentParse
from strata_node.index.analysis import AnalyzeRequest, analyze, global_analyzer, index_analyzers
from strata_node.index.analysis.lowercase import java_lower
from strata_node.index.analysis.tokenizers import StandardTokenizer
from strata_node.rest.analyze import parse_analyze_body
from strata_node.settings import SettingsError as SettingsValueError
from strata_node.settings import normalize_index_settings, validate_index_settings

FOXES = "The 2 QUICK Brown-Foxes jumped over the lazy dog's bone."


def terms(analyzer: str, text: str) -> list[str]:
    return global_analyzer(analyzer).analyze(text).terms


def standard_tokens(text: str, max_token_length: int = 255) -> list[tuple[str, str]]:
    tokens = StandardTokenizer("standard", max_token_length).tokenize(text, True)
    return list(zip(tokens.terms, tokens.types, strict=True))


def run(index=None, **request) -> dict:
    return analyze(AnalyzeRequest(**request), index)


# -- the built-in analyzers, as their reference pages show them ---------------------------


def test_standard_analyzer_splits_on_word_boundaries_and_lowercases():
    assert terms("standard", FOXES) == ["the", "2", "quick", "brown", "foxes", "jumped", "over", "the",
                                        "lazy", "dog's", "bone"]


def test_simple_analyzer_keeps_runs_of_letters_lowercased():
    assert terms("simple", FOXES) == ["the", "quick", "brown", "foxes", "jumped", "over", "the", "lazy",
                                      "dog", "s", "bone"]


def test_whitespace_analyzer_splits_on_whitespace_only():
    assert terms("whitespace", FOXES) == ["The", "2", "QUICK", "Brown-Foxes", "jumped", "over", "the", "lazy",
                                          "dog's", "bone."]


def test_keyword_analyzer_keeps_the_whole_text_as_one_token():
    assert terms("keyword", FOXES) == [FOXES]


def test_stop_analyzer_drops_english_stop_words():
    assert terms("stop", FOXES) == ["quick", "brown", "foxes", "jumped", "over", "lazy", "dog", "s", "bone"]


def test_dropped_stop_words_leave_their_positions_unused():
    tokens = global_analyzer("stop").tokens(FOXES)
    assert [(t.term, t.position) for t in tokens] == [
        ("quick", 1), ("brown", 2), ("foxes", 3), ("jumped", 4), ("over", 5), ("lazy", 7), ("dog", 8),
        ("s", 9), ("bone", 10)]


def test_standard_analyzer_reports_offsets_types_and_positions():
    # TransportAnalyzeActionTests.testFillsAttributes
    tokens = global_analyzer("standard").tokens("the 1 brown fox")
    assert [tuple(t) for t in tokens] == [("the", 0, 3, "<ALPHANUM>", 0), ("1", 4, 5, "<NUM>", 1),
                                          ("brown", 6, 11, "<ALPHANUM>", 2), ("fox", 12, 15, "<ALPHANUM>", 3)]


def test_configured_standard_analyzer_splits_long_tokens_and_drops_english_stop_words():
    index = index_analyzers({"index.analysis.analyzer.my_english.type": "standard",
                             "index.analysis.analyzer.my_english.max_token_length": 5,
                             "index.analysis.analyzer.my_english.stopwords": "_english_"})
    assert index.analyzer("my_english").analyze(FOXES).terms == [
        "2", "quick", "brown", "foxes", "jumpe", "d", "over", "lazy", "dog's", "bone"]


def test_configured_stop_analyzer_uses_the_listed_stop_words():
    index = index_analyzers({"index.analysis.analyzer.my_stop.type": "stop",
                             "index.analysis.analyzer.my_stop.stopwords": ["the", "over"]})
    assert index.analyzer("my_stop").analyze(FOXES).terms == [
        "quick", "brown", "foxes", "jumped", "lazy", "dog", "s", "bone"]


def test_none_stop_words_keep_every_token():
    index = index_analyzers({"index.analysis.analyzer.a.type": "stop",
                             "index.analysis.analyzer.a.stopwords": "_none_"})
    assert index.analyzer("a").analyze("the fox").terms == ["the", "fox"]


def test_values_of_a_multi_valued_field_are_a_position_gap_apart():
    analyzer = global_analyzer("standard")
    values = analyzer.analyze_values(["quick fox", "lazy dog"])
    assert (values.terms, values.positions) == (["quick", "fox", "lazy", "dog"], [0, 1, 102, 103])
    assert analyzer.analyze_values(["a", "b"], position_increment_gap=0).positions == [0, 1]
    assert analyzer.analyze_values([]).terms == []


# -- the standard tokenizer: Lucene's StandardTokenizer ------------------------------------


def test_standard_tokenizer_keeps_case():
    assert [t for t, _ in standard_tokens(FOXES)] == ["The", "2", "QUICK", "Brown", "Foxes", "jumped", "over",
                                                      "the", "lazy", "dog's", "bone"]


@pytest.mark.parametrize("text, expected", [
    ("O'Reilly's you're don't", ["O'Reilly's", "you're", "don't"]),
    ("21.35 R2D2 C3PO 216.239.63.104", ["21.35", "R2D2", "C3PO", "216.239.63.104"]),
    ("1,000.50 and 3.14", ["1,000.50", "and", "3.14"]),
    ("some-dashed-phrase dogs,chase,cats ac/dc",
     ["some", "dashed", "phrase", "dogs", "chase", "cats", "ac", "dc"]),
    ("foo      bar .  FOO <> BAR", ["foo", "bar", "FOO", "BAR"]),
    ('"QUOTED" word', ["QUOTED", "word"]),
    ("B2B 2B", ["B2B", "2B"]),
    ("moͤchte", ["moͤchte"]),
    ("", []), (".", []), (" ", []),
])
def test_standard_tokenizer_on_latin_text_numbers_and_punctuation(text, expected):
    assert [t for t, _ in standard_tokens(text)] == expected


@pytest.mark.parametrize("text, expected", [
    ("A:B", ["A:B"]), ("A::B", ["A", "B"]), ("1.2", ["1.2"]), ("A.B", ["A.B"]), ("1..2", ["1", "2"]),
    ("A..B", ["A", "B"]), ("1,2", ["1,2"]), ("1,,2", ["1", "2"]), ("A.:B", ["A", "B"]), ("1,.2", ["1", "2"]),
    ("A:B_A:B", ["A:B_A:B"]), ("A:B_A::B", ["A:B_A", "B"]), ("1.2_1..2", ["1.2_1", "2"]),
    ("1,2_1,,2", ["1,2_1", "2"]), ("C_A.:B", ["C_A", "B"]), ("3_1.,2", ["3_1", "2"]),
])
def test_consecutive_mid_word_punctuation_splits_a_token(text, expected):
    assert [t for t, _ in standard_tokens(text)] == expected


def test_email_addresses_and_urls_split_at_at_signs_hyphens_slashes_and_colons():
    # the uax_url_email tokenizer page shows what the standard tokenizer makes of an address
    assert [t for t, _ in standard_tokens("Email me at john.smith@global-international.com")] == [
        "Email", "me", "at", "john.smith", "global", "international.com"]
    assert [t for t, _ in standard_tokens("see https://www.elastic.co/guide?q=1")] == [
        "see", "https", "www.elastic.co", "guide", "q", "1"]


def test_underscores_join_words_but_are_no_token_alone():
    assert [t for t, _ in standard_tokens("foo_bar _x y_ ___ __")] == ["foo_bar", "_x", "y_"]


def test_numbers_are_typed_num_and_words_alphanum():
    assert standard_tokens("David has 5000 bones") == [
        ("David", "<ALPHANUM>"), ("has", "<ALPHANUM>"), ("5000", "<NUM>"), ("bones", "<ALPHANUM>")]


def test_each_han_ideograph_is_a_token():
    digits, word = "\uff11\uff12\uff13\uff14", "\uff34\uff45\uff53\uff54\uff53"  # full-width 1234, Tests
    assert standard_tokens(f"我是中国人。 {digits} {word} ") == [
        ("我", "<IDEOGRAPHIC>"), ("是", "<IDEOGRAPHIC>"), ("中", "<IDEOGRAPHIC>"), ("国", "<IDEOGRAPHIC>"),
        ("人", "<IDEOGRAPHIC>"), (digits, "<NUM>"), (word, "<ALPHANUM>")]


def test_supplementary_ideographs_are_tokens_too():
    assert standard_tokens("𩬅艱鍟䇹愯瀛") == [(c, "<IDEOGRAPHIC>") for c in "𩬅艱鍟䇹愯瀛"]


def test_japanese_splits_kanji_and_hiragana_but_keeps_katakana_runs():
    assert standard_tokens("仮名遣い カタカナ") == [
        ("仮", "<IDEOGRAPHIC>"), ("名", "<IDEOGRAPHIC>"), ("遣", "<IDEOGRAPHIC>"), ("い", "<HIRAGANA>"),
        ("カタカナ", "<KATAKANA>")]


def test_hangul_words_stay_whole():
    assert standard_tokens("안녕하세요 훈민정음") == [("안녕하세요", "<HANGUL>"), ("훈민정음", "<HANGUL>")]


@pytest.mark.parametrize("text", ["ざ", "ザ", "壹゙", "아゙"])
def test_combining_marks_stay_with_their_character(text):
    assert [t for t, _ in standard_tokens(text)] == [text]


def test_thai_runs_are_one_southeast_asian_token():
    assert standard_tokens("การที่ได้ต้องแสดงว่างานดี. แล้วเธอจะไปไหน? ๑๒๓๔") == [
        ("การที่ได้ต้องแสดงว่างานดี", "<SOUTHEAST_ASIAN>"), ("แล้วเธอจะไปไหน", "<SOUTHEAST_ASIAN>"),
        ("๑๒๓๔", "<NUM>")]


def test_lao_runs_are_one_token():
    assert [t for t, _ in standard_tokens("ສາທາລະນະລັດ ປະຊາທິປະໄຕ ປະຊາຊົນລາວ")] == [
        "ສາທາລະນະລັດ", "ປະຊາທິປະໄຕ", "ປະຊາຊົນລາວ"]


@pytest.mark.parametrize("text, expected", [
    ("💩 💩💩", ["💩", "💩", "💩"]),
    ("👩\u200d❤️\u200d👩", ["👩\u200d❤️\u200d👩"]),
    ("👨🏼\u200d⚕️", ["👨🏼\u200d⚕️"]),
    ("🇺🇸🇺🇸", ["🇺🇸", "🇺🇸"]),
    ("#️⃣ 3️⃣", ["#️⃣", "3️⃣"]),
    ("🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
     ["🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"]),
])
def test_emoji_sequences_are_single_emoji_tokens(text, expected):
    assert standard_tokens(text) == [(e, "<EMOJI>") for e in expected]


def test_emoji_between_words_and_ideographs_are_their_own_tokens():
    assert standard_tokens("poo💩poo 💩中國💩") == [
        ("poo", "<ALPHANUM>"), ("💩", "<EMOJI>"), ("poo", "<ALPHANUM>"), ("💩", "<EMOJI>"),
        ("中", "<IDEOGRAPHIC>"), ("國", "<IDEOGRAPHIC>"), ("💩", "<EMOJI>")]


def test_text_presentation_selector_ends_an_emoji_and_is_dropped():
    assert standard_tokens("#\ufe0e") == []
    assert standard_tokens("3\ufe0e") == [("3\ufe0e", "<NUM>")]
    assert standard_tokens("\u2b55\ufe0e") == [("\u2b55", "<EMOJI>")]
    assert standard_tokens("\u2b55\ufe0e\u200d\u2b55\ufe0e") == [("\u2b55", "<EMOJI>"),
                                                                 ("\u200d\u2b55", "<EMOJI>")]


def test_tokens_longer_than_max_token_length_are_split_at_that_length():
    assert [t for t, _ in standard_tokens(FOXES, 5)] == ["The", "2", "QUICK", "Brown", "Foxes", "jumpe", "d",
                                                         "over", "the", "lazy", "dog's", "bone"]
    b = "b" * 255
    assert [t for t, _ in standard_tokens(f"x {b} {b}b")] == ["x", b, b, "b"]
    assert [t for t, _ in standard_tokens("ab cd toolong xy z", 5)] == ["ab", "cd", "toolo", "ng", "xy", "z"]


def test_a_split_piece_ends_where_a_scan_of_the_window_ends_it():
    # "dog'" is no token on its own: the apostrophe only joins when a letter follows it
    assert [t for t, _ in standard_tokens("dog's", 4)] == ["dog", "s"]


def test_max_token_length_outside_lucene_limits_is_refused():
    with pytest.raises(IllegalArgument, match="maxTokenLength must be greater than zero"):
        index_analyzers({"index.analysis.tokenizer.t.type": "standard",
                         "index.analysis.tokenizer.t.max_token_length": 0})


@pytest.mark.parametrize("text, expected", [
    ("'apple' pie", ["apple", "pie"]),  # a quote before a vowel is no part of the word
    ("cafe\u0301's menu", ["cafe\u0301's", "menu"]),  # marks belong to their letter (NFD text)
    ("Jose\u0301:Mari\u0301a 1\u0301.5", ["Jose\u0301:Mari\u0301a", "1\u0301.5"]),
    ("\u0301abc", ["abc"]),  # a mark with nothing before it is dropped
    ("🇸abc 🇺🇸🇺x", ["abc", "🇺🇸", "x"]),  # a lone flag half is dropped
])
def test_words_that_general_purpose_word_boundaries_get_wrong(text, expected):
    """The `regex` module's word boundaries (its WORD flag) split or glue each of these
    differently from UAX #29, which is why the tokenizer does not use them."""
    assert [t for t, _ in standard_tokens(text)] == expected


def test_words_and_numbers_match_an_independent_uax29_implementation():
    """Where Lucene's grammar is plain UAX #29 (letters, digits, katakana, `_`, the
    mid-word punctuation, marks, format characters, joiners, flags and line breaks),
    the tokens are the segments uniseg finds that hold a letter or digit, or a flag."""
    keep = regex.compile(r"[\p{WB=ALetter}\p{WB=Numeric}\p{WB=Katakana}]").search
    indicators = regex.compile(r"\p{WB=Regional_Indicator}").findall
    alphabet = [*"aB1_.,:;'\" \n\r-", "\u0301", "\u00ad", "\u200d", "\u200b", "\u2060", "\ufe0f",
                "🇺", "🇸", "カ"]
    rng = random.Random(11)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        expected = [w for w in words(text) if keep(w) or len(indicators(w)) == 2]
        assert [t for t, _ in standard_tokens(text)] == expected, text


def test_terms_without_detail_equal_terms_with_detail_on_random_ascii():
    """Indexing takes a faster path (no offsets, no types) than `_analyze`; both must
    give the same tokens."""
    rng = random.Random(7)
    alphabet = "aZ09_.,:;'-/ @#\n\t!"
    analyzer = global_analyzer("standard")
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert analyzer.analyze(text).terms == analyzer.analyze(text, detail=True).terms, text
    long_text = "x" * 600 + " y"
    assert analyzer.analyze(long_text).terms == analyzer.analyze(long_text, detail=True).terms


def test_digits_joined_by_single_dots_are_one_term_as_the_full_scan_finds():
    """Addresses and versions skip the regular expression on the index path: the terms
    must be those of the full scan, dots at either end or doubled included."""
    rng = random.Random(5)
    analyzer = global_analyzer("standard")
    cases = ["10.0.0.1", "1.1", ".5", "5.", "1..2", "1.2.", "..", "2026.11.22", "1.2a", "a.1"]
    cases += ["".join(rng.choice("0123456789.") for _ in range(rng.randint(1, 16))) for _ in range(2000)]
    for text in cases:
        expected = [t.encode() for t in analyzer.analyze(text, detail=True).terms]
        assert analyzer.index_terms([text])[0] == expected, text
        assert analyzer.index_terms([f"GET {text} x"])[0] == [b"get", *expected, b"x"], text


# -- lowercase, letter and whitespace ------------------------------------------------------


def test_lowercase_maps_code_points_one_by_one_as_java_does():
    assert java_lower("ΟΔΟΣ") == "οδοσ"  # no final sigma
    assert java_lower("İstanbul") == "istanbul"  # one code point, not i + combining dot
    assert java_lower("ÉCOLE") == "école"


def test_letter_tokenizer_splits_at_anything_not_a_letter():
    assert run(tokenizer="letter", text=["élan e\u0301 dog's 2x"])["tokens"][0]["token"] == "élan"
    assert [t["token"] for t in run(tokenizer="letter", text=["élan e\u0301 dog's 2x"])["tokens"]] == [
        "élan", "e", "dog", "s", "x"]


def test_whitespace_tokenizer_splits_only_on_java_whitespace():
    tokens = run(tokenizer="whitespace", text=["a\u00a0b c\u2003d\u0085e"])["tokens"]
    assert [t["token"] for t in tokens] == ["a\u00a0b", "c", "d\u0085e"]


# -- custom analyzers in index settings ----------------------------------------------------


CUSTOM = {
    "index.analysis.analyzer.my.type": "custom",
    "index.analysis.analyzer.my.tokenizer": "my_tokenizer",
    "index.analysis.analyzer.my.filter": ["lowercase", "my_stop"],
    "index.analysis.tokenizer.my_tokenizer.type": "standard",
    "index.analysis.tokenizer.my_tokenizer.max_token_length": "6",
    "index.analysis.filter.my_stop.type": "stop",
    "index.analysis.filter.my_stop.stopwords": ["quick", "the"],
}


def test_custom_analyzer_chains_its_tokenizer_and_filters():
    index = index_analyzers(CUSTOM)
    assert index.analyzer("my").analyze("The QUICK brown foxes jumped").terms == ["brown", "foxes", "jumped"]


def test_custom_analyzer_reads_lists_as_index_metadata_stores_them():
    stored = {k: str(v) for k, v in CUSTOM.items()}  # what index metadata writes today
    assert index_analyzers(stored).analyzer("my").analyze("The QUICK brown fox").terms == ["brown", "fox"]


def test_custom_analyzer_reads_a_comma_separated_filter_list():
    index = index_analyzers({"index.analysis.analyzer.a.tokenizer": "whitespace",
                             "index.analysis.analyzer.a.filter": "lowercase, stop"})
    assert index.analyzer("a").analyze("The Fox").terms == ["fox"]


def test_index_default_analyzer_replaces_standard_for_the_index():
    index = index_analyzers({"index.analysis.analyzer.default.type": "whitespace"})
    assert index.default.analyze("Brown-Foxes jumped").terms == ["Brown-Foxes", "jumped"]
    assert index_analyzers({}).default.analyze("Brown-Foxes").terms == ["brown", "foxes"]


def test_index_names_fall_back_to_the_built_in_components():
    index = index_analyzers(CUSTOM)
    assert index.analyzer("simple").analyze("a-b").terms == ["a", "b"]
    assert index.tokenizer("whitespace") is not None and index.filter("lowercase") is not None


def test_normalizer_lowercases_the_whole_value():
    index = index_analyzers({"index.analysis.normalizer.my_normalizer.type": "custom",
                             "index.analysis.normalizer.my_normalizer.filter": ["lowercase"]})
    assert run(index, normalizer="my_normalizer", text=["Wi-fi"])["tokens"] == [
        {"token": "wi-fi", "start_offset": 0, "end_offset": 5, "type": "word", "position": 0}]


@pytest.mark.parametrize("settings, message", [
    ({"index.analysis.analyzer.a.type": "english"}, "Unknown analyzer type [english] for [a]"),
    ({"index.analysis.analyzer.a.filter": ["lowercase"]},
     "analyzer [a] must specify either an analyzer type, or a tokenizer"),
    ({"index.analysis.analyzer.a.type": "custom"}, "Custom Analyzer [a] must be configured with a tokenizer"),
    ({"index.analysis.analyzer.a.tokenizer": "nope"},
     "Custom Analyzer [a] failed to find tokenizer under name [nope]"),
    ({"index.analysis.analyzer.a.tokenizer": "standard",
      "index.analysis.analyzer.a.filter": ["asciifolding"]},
     "Custom Analyzer [a] failed to find filter under name [asciifolding]"),
    ({"index.analysis.analyzer.a.tokenizer": "standard",
      "index.analysis.analyzer.a.char_filter": ["html_strip"]},
     "Custom Analyzer [a] failed to find char_filter under name [html_strip]"),
    ({"index.analysis.filter.f.type": "asciifolding"}, "Unknown filter type [asciifolding] for [f]"),
    ({"index.analysis.tokenizer.t.type": "ngram"}, "Unknown tokenizer type [ngram] for [t]"),
    ({"index.analysis.char_filter.c.type": "html_strip"}, "Unknown char_filter type [html_strip] for [c]"),
    ({"index.analysis.filter.f.stopwords": "a"},
     "filter [f] must specify either an analyzer type, or a tokenizer"),
    ({"index.analysis.analyzer._a.type": "simple"}, "analyzer name must not start with '_'. got \"_a\""),
    ({"index.analysis.normalizer.n.filter": ["stop"]}, "Custom normalizer [n] may not use filter [stop]"),
    ({"index.analysis.filter.f.type": "stop", "index.analysis.filter.f.stopwords": "_french_"},
     "the predefined stop word list [_french_] is not available in Strata"),
])
def test_bad_analysis_settings_are_refused_as_elasticsearch_refuses_them(settings, message):
    with pytest.raises(IllegalArgument) as e:
        index_analyzers(settings)
    assert e.value.reason.startswith(message)


def test_a_setting_that_is_no_number_is_a_settings_exception():
    with pytest.raises(SettingsError,
                       match=r"Failed to parse int setting \[max_token_length\] with value \[x\]"):
        index_analyzers({"index.analysis.tokenizer.t.type": "standard",
                         "index.analysis.tokenizer.t.max_token_length": "x"})


def test_index_creation_settings_accept_analysis_and_validate_it():
    settings = normalize_index_settings({"number_of_shards": 1, "analysis": {
        "analyzer": {"my": {"tokenizer": "standard", "filter": ["lowercase"]}}}})
    assert validate_index_settings(settings) == {"index.number_of_shards": 1}
    with pytest.raises(IllegalArgument, match=r"Unknown analyzer type \[nope\] for \[my\]"):
        validate_index_settings(normalize_index_settings(
            {"analysis": {"analyzer": {"my": {"type": "nope"}}}}))
    with pytest.raises(SettingsValueError, match=r"unknown setting \[index.analysys.x\]"):
        validate_index_settings({"index.analysys.x": "1"})


# -- the _analyze API ----------------------------------------------------------------------


def test_several_texts_continue_positions_and_offsets_with_a_gap_of_100():
    tokens = run(analyzer="standard", text=["foo bar", "baz"])["tokens"]
    assert [(t["token"], t["position"], t["start_offset"], t["end_offset"]) for t in tokens] == [
        ("foo", 0, 0, 3), ("bar", 1, 4, 7), ("baz", 102, 8, 11)]


def test_stop_words_dropped_at_the_end_of_a_text_still_advance_the_next_text():
    tokens = run(analyzer="stop", text=["fox the", "dog"])["tokens"]
    assert [(t["token"], t["position"]) for t in tokens] == [("fox", 0), ("dog", 102)]
    tokens = run(analyzer="stop", text=["fox", "dog"])["tokens"]
    assert [(t["token"], t["position"]) for t in tokens] == [("fox", 0), ("dog", 101)]


def test_offsets_count_utf16_code_units_as_java_does():
    tokens = run(analyzer="standard", text=["👍 ok 𩬅x"])["tokens"]
    assert [(t["token"], t["start_offset"], t["end_offset"]) for t in tokens] == [
        ("👍", 0, 2), ("ok", 3, 5), ("𩬅", 6, 8), ("x", 8, 9)]


def test_tokenizer_and_filters_in_the_request_build_an_analyzer():
    tokens = run(tokenizer="standard", filters=["lowercase", {"type": "stop", "stopwords": ["brown"]}],
                 text=["the qu1ck Brown fox"])["tokens"]
    assert [t["token"] for t in tokens] == ["the", "qu1ck", "fox"]


def test_filters_without_a_tokenizer_normalize_the_whole_text():
    assert [t["token"] for t in run(filters=["lowercase"], text=["Quick Fox"])["tokens"]] == ["quick fox"]
    with pytest.raises(IllegalArgument, match=r"Custom normalizer may not use filter \[stop\]"):
        run(filters=["stop"], text=["the fox"])


def test_index_analyzers_answer_for_an_index():
    index = index_analyzers(CUSTOM)
    assert [t["token"] for t in run(index, analyzer="my", text=["the quick brown fox"])["tokens"]] == [
        "brown", "fox"]
    assert [t["token"] for t in run(index, field="title", text=["Brown-Foxes"])["tokens"]] == [
        "brown", "foxes"]


@pytest.mark.parametrize("request_fields, index, message", [
    ({"analyzer": "custom_analyzer"}, None, "failed to find global analyzer [custom_analyzer]"),
    ({"analyzer": "foobar"}, {}, "failed to find analyzer [foobar]"),
    ({"tokenizer": "foobar"}, None, "failed to find global tokenizer under [foobar]"),
    ({"tokenizer": "foobar"}, {}, "failed to find tokenizer under [foobar]"),
    ({"tokenizer": "standard", "filters": ["foobar"]}, None, "failed to find global filter under [foobar]"),
    ({"tokenizer": "standard", "filters": ["foobar"]}, {}, "failed to find filter under [foobar]"),
    ({"tokenizer": "standard", "char_filters": ["foobar"]}, None,
     "failed to find global char_filter under [foobar]"),
    ({"tokenizer": {"type": "nope"}}, None, "failed to find global tokenizer under [nope]"),
    ({"tokenizer": {"max_token_length": 5}}, None,
     'Missing [type] setting for anonymous tokenizer: {"max_token_length":"5"}'),
    ({"field": "field"}, None, "analysis based on a specific field requires an index"),
    ({"normalizer": "foobar"}, {}, "failed to find normalizer under [foobar]"),
])
def test_unknown_components_are_refused_with_elasticsearch_messages(request_fields, index, message):
    with pytest.raises(IllegalArgument) as e:
        index_analysis = index_analyzers(index) if index is not None else None
        run(index_analysis, text=["the qu1ck brown fox"], **request_fields)
    assert e.value.reason == message


def test_request_validation_lists_every_problem():
    with pytest.raises(ActionRequestValidation) as e:
        run(analyzer="standard", tokenizer="standard", normalizer="n")
    assert e.value.errors == ["text is missing", "index is required if normalizer is specified",
                              "tokenizer/analyze should be null if normalizer is specified",
                              "cannot define extra components on a named analyzer",
                              "cannot define extra components on a named normalizer"]


def test_too_many_tokens_is_refused():
    with pytest.raises(IllegalState, match=r"exceeded the allowed maximum of \[3\]"):
        analyze(AnalyzeRequest(text=["a b c d"], analyzer="standard"), None, max_token_count=3)


def test_explain_shows_each_stage_of_a_custom_analyzer():
    detail = run(tokenizer="standard", filters=["lowercase"], text=["Quick"], explain=True)["detail"]
    token = {"token": "Quick", "start_offset": 0, "end_offset": 5, "type": "<ALPHANUM>", "position": 0,
             "bytes": "[51 75 69 63 6b]", "positionLength": 1, "termFrequency": 1}
    assert detail == {"custom_analyzer": True, "charfilters": [],
                      "tokenizer": {"name": "standard", "tokens": [token]},
                      "tokenfilters": [{"name": "lowercase", "tokens": [
                          {**token, "token": "quick", "bytes": "[71 75 69 63 6b]"}]}]}


def test_explain_shows_a_built_in_analyzer_whole_with_only_the_asked_attributes():
    detail = run(analyzer="standard", text=["Hi"], explain=True, attributes=["positionLength"])["detail"]
    assert detail == {"custom_analyzer": False, "analyzer": {"name": "standard", "tokens": [
        {"token": "hi", "start_offset": 0, "end_offset": 2, "type": "<ALPHANUM>", "position": 0,
         "positionLength": 1}]}}


def test_explain_names_inline_components_anonymous():
    detail = run(tokenizer={"type": "whitespace"}, filters=[{"type": "lowercase"}], text=["A"], explain=True)
    assert detail["detail"]["tokenizer"]["name"] == "__anonymous__whitespace"
    assert detail["detail"]["tokenfilters"][0]["name"] == "__anonymous__lowercase"


# -- the request body ----------------------------------------------------------------------


def test_body_text_may_be_a_string_or_an_array():
    assert parse_analyze_body(b'{"text": "a", "analyzer": "simple"}').text == ["a"]
    assert parse_analyze_body(b'{"text": ["a", "b"], "explain": "true"}').explain is True


@pytest.mark.parametrize("body, message", [
    (b'{"texts": "a"}', "[1:2] [analyze_request] unknown field [texts] did you mean [text]?"),
    (b'{"text": 1}', "[1:10] [analyze_request] text doesn't support values of type: VALUE_NUMBER"),
    (b'{"text": "a", "filter": "lowercase"}',
     "[1:25] [analyze_request] filter doesn't support values of type: VALUE_STRING"),
    (b'{"text": "a", "explain": "yes"}', "[1:26] [analyze_request] failed to parse field [explain]"),
    (b'[1]', "[1:1] [analyze_request] Expected START_OBJECT but was: START_ARRAY"),
])
def test_body_problems_are_located_parse_errors(body, message):
    with pytest.raises(XContentParse) as e:
        parse_analyze_body(body)
    assert e.value.reason == message
