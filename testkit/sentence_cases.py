"""A labelled set for sentence splitting: a paragraph and the sentences an editor sees in it.

Shared by `tests/test_sentences.py` and `bench/sentences.py`. The cases marked
"corpus" restate sentences from real feeds in the shared corpus (named in the
comment) where the old splitter went wrong; the others were written for this
set. Paragraphs are single lines: line and block breaks are handled before
splitting (`digest.text.blocks`).
"""

from __future__ import annotations

Case = tuple[str, list[str]]

CASES: dict[str, list[Case]] = {
    "en": [
        # corpus: netnewswire-natasha.xml, a conference called "try! Swift"
        (
            "I've been upgrading the try! Swift app to Swift 3.0 for what feels like 3 days now. "
            "It is finally done.",
            [
                "I've been upgrading the try! Swift app to Swift 3.0 for what feels like "
                "3 days now.",
                "It is finally done.",
            ],
        ),
        (
            "I'm doing a big refactor of try! Swift Data now that the Tokyo conference is over.",
            ["I'm doing a big refactor of try! Swift Data now that the Tokyo conference is over."],
        ),
        # corpus: netnewswire-macworld.rss
        (
            "The fifth iOS 11.2 beta is available to developers. Apple released it on Nov. 28, "
            "a week after the fourth.",
            [
                "The fifth iOS 11.2 beta is available to developers.",
                "Apple released it on Nov. 28, a week after the fourth.",
            ],
        ),
        (
            "Sen. Elizabeth Warren met Gov. Jerry Brown in Washington, D.C. on Tuesday. "
            "They spoke for an hour.",
            [
                "Sen. Elizabeth Warren met Gov. Jerry Brown in Washington, D.C. on Tuesday.",
                "They spoke for an hour.",
            ],
        ),
        (
            "Yahoo! Japan said revenue rose. The U.S. economy grew 3.2 per cent in the quarter.",
            [
                "Yahoo! Japan said revenue rose.",
                "The U.S. economy grew 3.2 per cent in the quarter.",
            ],
        ),
        (
            "“We are not going anywhere,” he said. “The plant stays open.” Workers cheered.",
            [
                "“We are not going anywhere,” he said.",
                "“The plant stays open.”",
                "Workers cheered.",
            ],
        ),
        (
            "Prices start at $1,299.99 for the base model (about €1.100). Shipping begins in May.",
            [
                "Prices start at $1,299.99 for the base model (about €1.100).",
                "Shipping begins in May.",
            ],
        ),
        (
            "The report by Dr. Jane Smith, Ph.D., was published in Vol. 3 of the journal. "
            "It runs to 40 pages.",
            [
                "The report by Dr. Jane Smith, Ph.D., was published in Vol. 3 of the journal.",
                "It runs to 40 pages.",
            ],
        ),
        (
            "Is it worth it? We think so! The battery lasts two days.",
            ["Is it worth it?", "We think so!", "The battery lasts two days."],
        ),
        (
            "Version 2.0 ships with node.js support, e.g. for scripts, and runs on macOS 10.13.",
            ["Version 2.0 ships with node.js support, e.g. for scripts, and runs on macOS 10.13."],
        ),
    ],
    "de": [
        # corpus: feedjira-CRE.xml, an ordinal number before a noun
        (
            "Plantarien waren Anfang des 20. Jahrhunderts die Kathedralen der modernen "
            "Wissenschaft. Der Blick in das Universum vermittelt die Erkenntnisse der Zeit.",
            [
                "Plantarien waren Anfang des 20. Jahrhunderts die Kathedralen der modernen "
                "Wissenschaft.",
                "Der Blick in das Universum vermittelt die Erkenntnisse der Zeit.",
            ],
        ),
        # corpus: netnewswire-aktuality.rss has the Slovak twin ("do 26. januára")
        (
            "Die Messe findet vom 3. bis 5. März in Berlin statt. Der Eintritt ist frei.",
            ["Die Messe findet vom 3. bis 5. März in Berlin statt.", "Der Eintritt ist frei."],
        ),
        (
            "Das Update bringt z. B. einen Dunkelmodus und u. a. neue Gesten. Es ist ab sofort "
            "verfügbar.",
            [
                "Das Update bringt z. B. einen Dunkelmodus und u. a. neue Gesten.",
                "Es ist ab sofort verfügbar.",
            ],
        ),
        (
            "Laut Prof. Dr. Müller sinkt der Verbrauch um ca. 20 Prozent. Das sei ein Erfolg.",
            [
                "Laut Prof. Dr. Müller sinkt der Verbrauch um ca. 20 Prozent.",
                "Das sei ein Erfolg.",
            ],
        ),
        (
            "„Wir bleiben hier“, sagte die Sprecherin. Am 1. Januar tritt das Gesetz in Kraft.",
            [
                "„Wir bleiben hier“, sagte die Sprecherin.",
                "Am 1. Januar tritt das Gesetz in Kraft.",
            ],
        ),
        (
            "Der Umsatz stieg auf 3,5 Mrd. Euro. Das Unternehmen sitzt in der Berliner Str. 5.",
            [
                "Der Umsatz stieg auf 3,5 Mrd. Euro.",
                "Das Unternehmen sitzt in der Berliner Str. 5.",
            ],
        ),
    ],
    "fr": [
        (
            "M. Dupont a rencontré Mme Martin le 3 mars. Ils ont parlé pendant une heure.",
            ["M. Dupont a rencontré Mme Martin le 3 mars.", "Ils ont parlé pendant une heure."],
        ),
        (
            "« Nous restons ici », a déclaré la porte-parole. Le vote aura lieu au XXe siècle, "
            "p. ex. en mai.",
            [
                "« Nous restons ici », a déclaré la porte-parole.",
                "Le vote aura lieu au XXe siècle, p. ex. en mai.",
            ],
        ),
        (
            "Le prix est de 1.299,99 euros. Est-ce trop cher ? Oui !",
            ["Le prix est de 1.299,99 euros.", "Est-ce trop cher ?", "Oui !"],
        ),
    ],
    "es": [
        (
            "El Sr. García llegó a las 10 p. m. del martes. La reunión duró dos horas.",
            ["El Sr. García llegó a las 10 p. m. del martes.", "La reunión duró dos horas."],
        ),
        (
            "¿Vale la pena? ¡Claro que sí! Cuesta 1.299 euros en EE. UU. y en España.",
            ["¿Vale la pena?", "¡Claro que sí!", "Cuesta 1.299 euros en EE. UU. y en España."],
        ),
        (
            "La Dra. López publicó el estudio en el núm. 3 de la revista. Tiene 40 páginas.",
            [
                "La Dra. López publicó el estudio en el núm. 3 de la revista.",
                "Tiene 40 páginas.",
            ],
        ),
    ],
    "pt": [
        # corpus: rssparser-uolNoticias.rss
        (
            "Nova York, 24 set (EFE).- O índice Dow Jones fechou nesta segunda-feira em baixa de "
            "0,68%. O mercado acompanhou a disputa comercial.",
            [
                "Nova York, 24 set (EFE).- O índice Dow Jones fechou nesta segunda-feira em baixa "
                "de 0,68%.",
                "O mercado acompanhou a disputa comercial.",
            ],
        ),
        (
            "O Sr. Silva encontrou a Dra. Costa em São Paulo. Eles conversaram por uma hora.",
            ["O Sr. Silva encontrou a Dra. Costa em São Paulo.", "Eles conversaram por uma hora."],
        ),
        (
            "O candidato tem 28% das intenções de voto, segundo o Ibope. A margem de erro é de "
            "2 p.p. para mais ou para menos.",
            [
                "O candidato tem 28% das intenções de voto, segundo o Ibope.",
                "A margem de erro é de 2 p.p. para mais ou para menos.",
            ],
        ),
    ],
    "zh": [
        # corpus: rss2email-bbc-chinese-feed.atom
        (
            "美国白宫称，将提名驻阿富汗美军司令官约翰‧艾伦为北约最高司令官。"
            "艾伦曾因受指称同一女性有“不当”邮件来往而被调查。",
            [
                "美国白宫称，将提名驻阿富汗美军司令官约翰‧艾伦为北约最高司令官。",
                "艾伦曾因受指称同一女性有“不当”邮件来往而被调查。",
            ],
        ),
        (
            "他说：“我们明天再谈。”大家都同意了！会议结束了吗？结束了。",
            ["他说：“我们明天再谈。”", "大家都同意了！", "会议结束了吗？", "结束了。"],
        ),
    ],
    "ja": [
        (
            "政府は新しい計画を発表した。実施は来年４月からとなる。詳細は未定だ！",
            ["政府は新しい計画を発表した。", "実施は来年４月からとなる。", "詳細は未定だ！"],
        ),
        (
            "彼は「もう帰ります。」と言った。本当ですか？",
            ["彼は「もう帰ります。」と言った。", "本当ですか？"],
        ),
    ],
    "ar": [
        (
            "قال الرئيس إن الاقتصاد ينمو. هل هذا صحيح؟ نعم!",
            ["قال الرئيس إن الاقتصاد ينمو.", "هل هذا صحيح؟", "نعم!"],
        ),
    ],
}
