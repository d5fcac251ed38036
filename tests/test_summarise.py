"""Summaries: sentence splitting, hygiene, languages, algorithms and the cache key."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from digest.config import parse_config
from digest.errors import ConfigError
from digest.text import languages
from digest.text.sentences import is_dangling, words
from digest.text.summarise import (
    ALGORITHMS,
    content_hash,
    is_standalone,
    split_sentences,
    summarise,
)

# One news story per language, written for these tests: a caption, a credit or a
# subscribe line the summary must never use, abbreviations, decimals and quotes.
ARTICLES: dict[str, tuple[str, list[str]]] = {
    "en": (
        "Carmaker to build electric pickups in Ohio",
        [
            "[Image: Jane Doe/Example Wire]",
            "Mr. Hall said on Monday that the company will build its electric pickup in Ohio "
            "from 2027, a plant deal worth €46.39 billion over ten years.",
            "The U.S. Department of Energy backed the plan with a loan of $2.5 billion, "
            "according to people briefed on the talks.",
            "Union leaders welcomed the decision after months of uncertainty at the plant. "
            "“This is the news our members waited for,” said Ms. Ortiz, who leads the local.",
            "Is this the end of the gasoline pickup?",
            "Analysts at Example Securities expect the pickup to cost about $48,000 before "
            "incentives, well below rival trucks from Detroit.",
            "Subscribe to our newsletter to get the news first every morning.",
            "The company will hire 2,400 workers in Ohio over the next three years, Mr. Hall said.",
        ],
    ),
    "de": (
        "Bahn bestellt neue Schnellzüge",
        [
            "Foto: Max Muster/dpa",
            "Die Deutsche Bahn hat am Dienstag 60 neue Schnellzüge für 4,2 Mrd. Euro bestellt, "
            "die ab 2028 z. B. zwischen Hamburg und München fahren sollen.",
            "Die Züge bieten u. a. mehr Sitzplätze, breitere Türen und ein schnelleres Netz "
            "für die Fahrgäste.",
            "„Das ist die größte Bestellung in der Geschichte des Unternehmens“, sagte "
            "Dr. Anna Weber, die Vorständin für den Fernverkehr.",
            "Der Fahrgastverband begrüßte die Entscheidung, forderte aber mehr Pünktlichkeit "
            "auf den bestehenden Strecken im ganzen Land.",
            "Lesen Sie auch: Wie pünktlich ist die Bahn wirklich?",
            "Die ersten Züge sollen im Herbst 2028 auf der Strecke Berlin–Köln im Einsatz sein.",
        ],
    ),
    "fr": (
        "La SNCF commande de nouveaux TGV",
        [
            "Photo : Jean Dupont / AFP",
            "M. Martin, le président de la SNCF, a annoncé mardi une commande de 30 rames "
            "pour 3,5 milliards d’euros, livrées à partir de 2027.",
            "Les nouveaux trains offriront 20 % de places en plus, p. ex. sur la ligne "
            "Paris–Lyon, la plus fréquentée du pays.",
            "« C’est un investissement historique pour le rail », a déclaré Mme Lefèvre, "
            "la ministre des Transports.",
            "Les syndicats ont salué l’annonce mais réclament des embauches pour assurer "
            "l’entretien des nouvelles rames.",
            "Abonnez-vous à notre lettre d’information pour ne rien manquer.",
            "Les premières rames circuleront entre Paris et Marseille à l’été 2027.",
        ],
    ),
    "es": (
        "Renfe compra trenes para el Cantábrico",
        [
            "Foto: María López / EFE",
            "El Sr. García, presidente de Renfe, anunció el lunes la compra de 40 trenes "
            "por 1,2 millones de euros cada uno, p. ej. para la línea de Santander.",
            "Los nuevos trenes llegarán en 2026 y sustituirán a unidades que tienen más de "
            "treinta años de servicio en la red.",
            "«Es la mayor inversión en el norte en décadas», dijo la Sra. Ruiz, consejera "
            "de Transportes de Cantabria.",
            "Los usuarios llevan años denunciando retrasos y averías en las líneas de "
            "cercanías de la región.",
            "Suscríbete a nuestro boletín para recibir las noticias cada mañana.",
            "Renfe prevé que los primeros trenes entren en servicio en la primavera de 2026.",
        ],
    ),
    "it": (
        "Trenitalia rinnova i regionali in Sicilia",
        [
            "Foto di Marco Rossi / ANSA",
            "Il sig. Bianchi, amministratore delegato di Trenitalia, ha annunciato lunedì "
            "l'acquisto di 25 treni regionali per 300 mln. di euro.",
            "I nuovi treni entreranno in servizio nel 2026 sulle linee tra Palermo, Catania "
            "e Messina, le più utilizzate dell'isola.",
            "«È un passo decisivo per i pendolari siciliani», ha detto il dott. Greco, "
            "assessore regionale ai trasporti.",
            "Le associazioni dei consumatori chiedono però orari più affidabili e più "
            "corse nelle ore di punta.",
            "Leggi anche: quanto costa davvero un abbonamento regionale?",
            "I primi convogli arriveranno a Palermo entro la fine dell'estate del 2026.",
        ],
    ),
    "pt": (
        "CP compra comboios para a Linha do Norte",
        [
            "Foto: Ana Costa / Lusa",
            "O Sr. Santos, presidente da CP, anunciou na segunda-feira a compra de 22 "
            "comboios por 46,39 milhões de euros, p. ex. para a Linha do Norte.",
            "Os novos comboios vão substituir composições com mais de quarenta anos e "
            "entram ao serviço a partir de 2027.",
            "«É o maior investimento da empresa numa geração», disse a Sra. Almeida, "
            "secretária de Estado das Infraestruturas.",
            "Os utentes queixam-se há anos de atrasos e supressões nas ligações entre "
            "Lisboa e o Porto.",
            "Assine a nossa newsletter para receber as notícias todas as manhãs.",
            "As primeiras composições devem chegar a Lisboa no verão de 2027.",
        ],
    ),
    "nl": (
        "NS bestelt nieuwe intercity's",
        [
            "Foto: Piet de Vries / ANP",
            "Dhr. Jansen, de topman van NS, kondigde dinsdag de aankoop aan van 50 nieuwe "
            "treinen voor 1,8 miljard euro, bijv. voor de lijn naar Groningen.",
            "De treinen bieden o.a. meer zitplaatsen en snellere wifi en rijden vanaf 2028 "
            "tussen de grote steden van het land.",
            "„Dit is de grootste bestelling in onze geschiedenis”, zei mevr. de Boer, de "
            "directeur van het reizigersvervoer.",
            "Reizigersorganisaties zijn blij met de aankoop maar willen ook minder "
            "storingen op het bestaande spoor.",
            "Abonneer je op onze nieuwsbrief en mis nooit meer een bericht.",
            "De eerste treinen gaan in het voorjaar van 2028 rijden tussen Amsterdam en Utrecht.",
        ],
    ),
}
JUNK_WORDS = re.compile(
    r"Image|Foto|Photo|Subscribe|Lesen Sie|Abonnez|Suscríbete|Leggi anche|Assine|Abonneer"
)


@pytest.mark.parametrize(
    ("sentence", "ok"),
    [
        ("[Image: FernandoV/Shutterstock]", False),
        ("Photo by Jane Doe for the Example Daily News.", False),
        ("From Bloomberg:", False),
        ("Become an insider and get the news first by subscribing to our newsletter.", False),
        ("Too short to stand.", False),
        ("Renault is considering how best to sell Alpine sports cars in North America.", True),
        ("The post Example appeared first on Example Blog today.", False),
        ("word " * 70, False),
        ("Lesen Sie auch: Warum die Bahn so oft zu spät kommt und was hilft", False),
        ("© 2026 Example Media Group, all rights reserved worldwide today.", False),
        ("The car was shown in Detroit (Photo: Getty Images) to dealers on Monday.", False),
    ],
)  # fmt: skip
def test_is_standalone(sentence: str, ok: bool) -> None:
    assert is_standalone(sentence) is ok


def test_summary_keeps_article_order_and_count() -> None:
    paragraphs = [
        "Renault is considering how best to sell Alpine sports cars in North America. "
        "The company has no dealer network of its own in the United States today.",
        "[Image: Someone/Agency]",
        "AutoNation could give the small brand access to many showrooms at once. "
        "Executives said talks were at an early stage and might still fall through.",
        "Alpine builds one of the best small sports coupes on sale in Europe right now.",
    ]
    summary = summarise(paragraphs, "en", 3)
    assert len(summary) == 3
    order = [next(i for i, p in enumerate(paragraphs) if s in p) for s in summary]
    assert order == sorted(order)
    assert not any("Image" in s for s in summary)


def test_sentence_splitting_needs_no_download_and_knows_abbreviations() -> None:
    text = "Mr. Smith paid €46.39 billion in the U.S. on Friday. He left. “Done,” he said."
    assert split_sentences(text, "en") == (
        "Mr. Smith paid €46.39 billion in the U.S. on Friday.",
        "He left.",
        "“Done,” he said.",
    )
    assert split_sentences("Ein Satz. Noch einer.", "xx-unknown")  # falls back, never fails


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "Dr. Jones met Gov. Smith in the U.S. on Friday. “It is done.” Then he left.",
         ["Dr. Jones met Gov. Smith in the U.S. on Friday.", "“It is done.”", "Then he left."]),
        ("de", "Das ist z. B. ein Test. Er zahlte 46,39 Mrd. Euro, d. h. mehr. „Gut“, sagte er.",
         ["Das ist z. B. ein Test.", "Er zahlte 46,39 Mrd. Euro, d. h. mehr.",
          "„Gut“, sagte er."]),
        ("fr", "M. Dupont est arrivé. Il a payé, p. ex. beaucoup. « C’est fini. » Mme Durand a ri.",
         ["M. Dupont est arrivé.", "Il a payé, p. ex. beaucoup.", "« C’est fini. »",
          "Mme Durand a ri."]),
        ("es", "Hay frutas, p. ej. manzanas. El Sr. García llegó a EE. UU. ayer. «Es bueno», dijo.",
         ["Hay frutas, p. ej. manzanas.", "El Sr. García llegó a EE. UU. ayer.",
          "«Es bueno», dijo."]),
        ("it", "Il sig. Rossi è arrivato negli USA. Ha pagato 46,39 mld. di euro.",
         ["Il sig. Rossi è arrivato negli USA.", "Ha pagato 46,39 mld. di euro."]),
        ("pt", "O Sr. Silva chegou aos EUA. Pagou muito, p. ex. demais. «Acabou», disse ele.",
         ["O Sr. Silva chegou aos EUA.", "Pagou muito, p. ex. demais.", "«Acabou», disse ele."]),
        ("nl", "Dhr. Jansen betaalde veel, d.w.z. te veel. Dat is o.a. duur. „Klaar”, zei hij.",
         ["Dhr. Jansen betaalde veel, d.w.z. te veel.", "Dat is o.a. duur.",
          "„Klaar”, zei hij."]),
    ],
)  # fmt: skip
def test_splitting_per_language(language: str, text: str, expected: list[str]) -> None:
    assert list(split_sentences(text, language)) == expected


@pytest.mark.parametrize("language", sorted(ARTICLES))
def test_summarises_each_language(language: str) -> None:
    title, paragraphs = ARTICLES[language]
    summary = summarise(paragraphs, language, 3, title=title, max_words=75)
    assert len(summary) == 3
    assert summary[0] == paragraphs[1]  # the lead, whole despite its abbreviations
    assert sum(len(words(s)) for s in summary) <= 75
    positions = [next(i for i, p in enumerate(paragraphs) if s in p) for s in summary]
    assert positions == sorted(positions)
    assert not any(JUNK_WORDS.search(s) or s.endswith("?") for s in summary)
    assert languages.detect(" ".join(paragraphs)) == language
    assert languages.stop_words(language)  # every one of the seven has stop words
    # Without a declared language the detector finds it, and the choice is the same.
    assert summarise(paragraphs, None, 3, title=title, max_words=75) == summary


def test_unsupported_language_warns_and_still_summarises(caplog: pytest.LogCaptureFixture) -> None:
    _, paragraphs = ARTICLES["en"]
    with caplog.at_level(logging.WARNING):
        summary = summarise(paragraphs, "tlh", 2)
    assert len(summary) == 2
    assert "tlh" in caplog.text


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_picks_standalone_sentences(algorithm: str) -> None:
    title, paragraphs = ARTICLES["en"]
    summary = summarise(paragraphs, "en", 3, title=title, algorithm=algorithm)
    assert len(summary) == 3
    assert all(is_standalone(s) and not is_dangling(s) for s in summary)


def test_unknown_algorithm_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown summary algorithm 'bert'"):
        summarise(ARTICLES["en"][1], "en", 3, algorithm="bert")


def test_word_cap_and_duplicates() -> None:
    sentence = "The council approved the new bridge over the river after a long debate."
    paragraphs = [sentence, sentence.upper(), "It will cost " + "a great deal of money " * 9 + "."]
    capped = summarise(paragraphs, "en", 3, max_words=20)
    assert capped == (sentence,)  # the repeat is dropped, the long one does not fit
    assert len(summarise(paragraphs, "en", 3)) == 2


def test_questions_and_bare_quotes_only_when_nothing_better() -> None:
    assert is_dangling("Is this the end of the gasoline pickup?")
    assert is_dangling("“This is the news our members waited for all year.”")
    assert not is_dangling("“This is the news,” said Ms. Ortiz, who leads the local union.")
    only = ["Is this the end of the gasoline pickup as we know it?"]
    assert summarise(only, "en", 1) == tuple(only)


def test_cache_key_follows_everything_that_shapes_the_summary() -> None:
    text = ["One paragraph of text that is long enough to count here."]
    keys = {
        content_hash(text, "en", 3),
        content_hash(text, "de", 3),
        content_hash(text, "en", 2),
        content_hash(text, "en", 3, title="A headline"),
        content_hash(text, "en", 3, algorithm="lexrank"),
        content_hash(text, "en", 3, max_words=75),
    }
    assert len(keys) == 6
    assert content_hash(text, "en", 3) == content_hash(list(text), "en", 3)


def test_summary_settings_and_per_feed_overrides(tmp_path: Path) -> None:
    config = parse_config(
        '[summary]\nalgorithm = "lexrank"\nmax_words = 60\n'
        '[[feeds]]\nurl = "x"\nsummary_sentences = 2\nsummary_algorithm = "lead"\n',
        tmp_path,
    )
    assert (config.summary.algorithm, config.summary.max_words) == ("lexrank", 60)
    assert (config.feeds[0].summary_sentences, config.feeds[0].summary_algorithm) == (2, "lead")
    defaults = parse_config('[[feeds]]\nurl = "x"\n', tmp_path)
    assert (defaults.summary.algorithm, defaults.summary.max_words) == ("auto", 75)
    with pytest.raises(ConfigError, match=r"summary\.algorithm = 'bert' must be one of 'auto'"):
        parse_config('[summary]\nalgorithm = "bert"\n', tmp_path)
    with pytest.raises(ConfigError, match=r"summary_sentences = -1 must be at least 0"):
        parse_config('[[feeds]]\nurl = "x"\nsummary_sentences = -1\n', tmp_path)


def test_real_news_summaries_are_clean(corpus: Path) -> None:
    path = corpus / "summaries" / "h4-news.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:30]]
    for row in rows:
        summary = summarise([row["text"]], "en", 3, max_words=75)
        assert 1 <= len(summary) <= 3
        assert sum(len(words(s)) for s in summary) <= 75 or len(summary) == 1
        assert all(is_standalone(s) for s in summary)
        assert len({s.casefold() for s in summary}) == len(summary)
