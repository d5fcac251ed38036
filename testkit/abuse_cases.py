"""A written test set for the abuse filter: sentences and whether an editor would drop them.

Shared by `tests/test_comments.py` and `bench/abuse.py`. Every sentence was
written for this set; none comes from the corpus.
"""

from __future__ import annotations

ABUSIVE: tuple[str, ...] = (
    "You are a fucking idiot and so is the author.",
    "What a sh1t take from someone who never drove one.",
    "Anyone who buys this is a moron and a retard.",
    "Shut up, you stupid bitch, nobody asked you.",
    "The author is a worthless piece of shit.",
    "Go fuck yourself, you clueless dealer shill.",
    "You dumb ass, read the article before you post.",
    "What an asshole thing to say to a new owner.",
    "Only a f*cking loser would defend this brand.",
    "This writer is a total dickhead and a liar.",
    "Kill yourself, nobody wants your opinion here.",
    "I hope someone burns your house down, you scumbag.",
    "Stupid cunt, learn to drive before you comment.",
    "Get lost, faggot, this forum is for real drivers.",
    "You absolute wanker, the gearbox is fine.",
    "Typical bullshit from a paid shill of a journalist.",
    "Shove your review up your ass.",
    "Eat shit, this car is better than anything you own.",
    "You're a f u c k i n g moron if you believe this.",
    "What a stupid fucking article by a stupid fucking hack.",
)
"""Insults, slurs, threats, leetspeak and profanity aimed at people."""

CIVIL: tuple[str, ...] = (
    "The ride is a hell of a lot better than the old one.",
    "Damn, that is a lot of money for a base model.",
    "Scunthorpe has the best cocktail bar near the dealership.",
    "The brake assembly class action is worth following.",
    "This article is wrong about the brakes; the test car had the old pads.",
    "I disagree with the author: the diesel was never that thirsty.",
    "The infotainment system is slow and the menus are confusing.",
    "Bloody brilliant engine, shame about the gearbox.",
    "The old model's paint was crappy, but the new one holds up.",
    "Winter tyres made a bigger difference than the traction control.",
    "The hatchback sucks in crosswinds above seventy.",
    "My dealer in Middlesex replaced the pump under warranty.",
    "Penistone to Sheffield is a nice test route for suspension.",
    "The cockpit layout is cleaner than the previous generation.",
    "The dashboard analysis in the second paragraph is spot on.",
    "They screwed up the recall notice but fixed the car quickly.",
    "The reviewer missed the real problem, which is rust on the sills.",
    "Honestly the pricing is absurd for what you get.",
    "Cheap plastics everywhere, a disappointing interior for the money.",
    "Thanks for the long-term test, the fuel figures match mine.",
)
"""Criticism without abuse, mild words from the allow list, place and technical names."""

CASES: tuple[tuple[str, bool], ...] = tuple((t, True) for t in ABUSIVE) + tuple(
    (t, False) for t in CIVIL
)
"""(sentence, abusive) pairs."""

MIN_ACCURACY = 0.9
"""Share of the set the default filter must get right."""
