"""Every script: texts without spaces between words (Chinese, Japanese, Thai) get shingles and
a word count, so they are near-deduplicated like any other text."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from pipeline.dedup.minhash import MinHashConfig, MinHasher, sketch
from pipeline.dedup.near import verify
from pipeline.normalize.article import normalize_article
from pipeline.normalize.words import count_words, split_words
from pipeline.records import RawRecord

CHINESE = [
    "国家统计局周三公布的数据显示，今年第三季度国内生产总值同比增长百分之四点八，略低于市场此前的预期。"
    "分析人士指出，房地产市场持续低迷和出口增速放缓是拖累经济增长的主要因素。",
    "统计局发言人在新闻发布会上表示，尽管面临外部环境复杂多变的挑战，但消费市场总体保持稳定，服务业增加值继续扩大。"
    "他说，随着一系列稳增长政策逐步落地见效，第四季度经济有望企稳回升。",
    "数据还显示，九月份社会消费品零售总额同比增长百分之三点二，规模以上工业增加值增长百分之五点四，均好于八月份的水平。"
    "与此同时，全国城镇调查失业率为百分之五点一，与上月持平。",
    "多家国际投资银行随后上调了对中国全年经济增长的预测。有经济学家认为，央行近期下调存款准备金率和政策利率，"
    "将为实体经济提供更多流动性支持，但房地产行业的调整可能还需要一段时间。",
]
# The same wire story as another site ran it: a credit line, one date changed, a sentence added.
CHINESE_COPY = [
    "新华社北京电　" + CHINESE[0].replace("周三", "周四"),
    CHINESE[1],
    CHINESE[2] + "记者从相关部门获悉，更多细节将于下周公布。",
    CHINESE[3],
]
CHINESE_OTHER = [
    "在昨晚结束的一场足球联赛中，主队凭借下半场的两个进球以二比一逆转战胜了来访的卫冕冠军。"
    "主教练赛后表示，球员们在落后的情况下没有放弃，展现出了顽强的斗志。",
    "这场胜利使球队在积分榜上上升到第三位，距离榜首仅差四分。下一轮比赛他们将客场挑战另一支争冠热门球队，"
    "届时预计将有超过五万名球迷到场观战。",
]
JAPANESE = (
    "気象庁によりますと、強い台風十号は今夜遅くにも九州南部に上陸するおそれがあり、広い範囲で記録的な大雨となる見込みです。"
    "鹿児島県や宮崎県では、すでに一部の地域に避難指示が出されています。交通機関にも影響が広がっており、"
    "航空各社は明日の便の多くを欠航にすると発表しました。気象庁は、土砂災害や河川の氾濫に厳重に警戒するよう呼びかけています。"
)
JAPANESE_COPY = JAPANESE.replace("今夜遅くにも", "今夜遅くから") + "政府は関係閣僚会議を開き、対応を協議しました。"
THAI = (
    "กรมอุตุนิยมวิทยาประกาศเตือนว่าพายุโซนร้อนจะเคลื่อนตัวเข้าสู่ภาคตะวันออกเฉียงเหนือของประเทศไทยในวันพรุ่งนี้ "
    "ทำให้มีฝนตกหนักถึงหนักมากในหลายจังหวัด ประชาชนที่อาศัยอยู่ในพื้นที่เสี่ยงภัยควรเตรียมพร้อมรับมือกับน้ำท่วมฉับพลันและน้ำป่าไหลหลาก "
    "เจ้าหน้าที่ได้เตรียมเครื่องสูบน้ำและเรือไว้ช่วยเหลือผู้ประสบภัยแล้ว"
)
THAI_COPY = THAI + " นายกรัฐมนตรีสั่งการให้ทุกหน่วยงานเร่งให้ความช่วยเหลืออย่างเต็มที่"
CONFIG = MinHashConfig()


@pytest.fixture(scope="module")
def hasher():
    return MinHasher(CONFIG)


def _sketch(hasher, text):
    signature = hasher.signature(text)
    assert signature is not None
    return sketch(signature)


def _ideographs(text):
    return sum("\u4e00" <= c <= "\u9fff" for c in text)


def test_chinese_words_are_characters_and_punctuation_is_dropped():
    text = CHINESE[0]
    words = split_words(text)
    assert "，" not in words and "。" not in words
    assert len(words) == count_words(text) == _ideographs(text)
    assert len(text.split()) == 1  # what word_count was before: one "word" per paragraph


def test_mixed_scripts_keep_latin_words_whole():
    assert split_words("苹果公司周二发布了新款 iPhone 16 手机，售价 799 美元。") == [
        "苹", "果", "公", "司", "周", "二", "发", "布", "了", "新", "款", "iPhone", "16", "手", "机", "售", "价", "799", "美", "元"]
    # no change for texts in spaced scripts, accents and Korean included
    for text in ("Le président a déclaré: «Nous avons gagné».", "서울시는 내일부터 버스 요금을 인상한다고 밝혔다."):
        assert split_words(text) == text.split()


def test_word_hashes_of_spaced_texts_are_unchanged(hasher):
    """The no-space path tokenises the Latin words of a mixed text like the fast path does."""
    latin = "The Bank of Japan kept rates unchanged on Tuesday, as expected."
    mixed = hasher.word_hashes(latin + " 日本銀行")
    assert np.array_equal(mixed[:-4], hasher.word_hashes(latin))


def test_chinese_near_copy_is_found_and_other_news_is_not(hasher):
    original, copy, other = ("\n\n".join(p) for p in (CHINESE, CHINESE_COPY, CHINESE_OTHER))
    found = verify(_sketch(hasher, copy), _sketch(hasher, original), CONFIG)
    assert found is not None and found[0] == "minhash"
    assert verify(_sketch(hasher, other), _sketch(hasher, original), CONFIG) is None
    # and the pair becomes a candidate: they share band keys
    assert set(hasher.band_keys(hasher.signature(copy))) & set(hasher.band_keys(hasher.signature(original)))


def test_chinese_partial_copy_is_a_containment_duplicate(hasher):
    original, lead_only = "\n\n".join(CHINESE), "\n\n".join(CHINESE[:2])
    assert verify(_sketch(hasher, lead_only), _sketch(hasher, original), CONFIG)[0] == "containment"


def test_japanese_and_thai_near_copies_are_found(hasher):
    for original, copy in ((JAPANESE, JAPANESE_COPY), (THAI, THAI_COPY)):
        assert verify(_sketch(hasher, copy), _sketch(hasher, original), CONFIG) is not None
    assert verify(_sketch(hasher, JAPANESE), _sketch(hasher, THAI), CONFIG) is None


def test_min_words_counts_characters_in_no_space_scripts(hasher):
    """30 characters give as many shingles as 30 English words: a one-line item is too short."""
    short = "国家统计局周三公布的数据显示经济增长略低于预期。"
    assert count_words(short) < CONFIG.min_words and hasher.signature(short) is None
    assert hasher.signature(CHINESE[0]) is not None


def test_normalised_word_count():
    now = datetime(2024, 10, 16, tzinfo=timezone.utc)
    payload = ("中国第三季度经济增长百分之四点八\n\n" + "\n\n".join(CHINESE)).encode("utf-8")
    article = normalize_article(RawRecord("/data/zh.txt", "text", payload), now=now)
    assert article.word_count == count_words(article.text) == _ideographs(article.text) > 200
