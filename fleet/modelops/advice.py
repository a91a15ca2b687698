"""What a disease is called and what to do about it, per class label of the shipped model.

Every text here is an English msgid of the gettext domain ``diseases``; the Vietnamese and
Chinese catalogs are ``fleet/web/dashboard/locale/<lang>/LC_MESSAGES/diseases.po`` (their notes
cite the official name lists). Crop and disease msgids are exactly what
:func:`~agrifleet.inference.parts.crop_name` and :func:`~agrifleet.inference.parts.disease_name`
return, so a stored crop or disease part translates directly. The advice follows integrated
pest management: cultural measures first, chemicals last, no brand names, and always the local
plant protection station's advice and the label's dose.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from agrifleet.inference.parts import crop_name, disease_name

DOMAIN = "diseases"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "web" / "dashboard" / "locale"
LANGUAGES = ("en", "vi", "zh")


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction; translated when shown."""
    return msgid


@dataclass(frozen=True)
class Advice:
    crop_msgid: str
    disease_msgid: str
    what_it_is_msgid: str
    what_to_do_msgid: str


# Texts for one disease, shared where the same pathogen attacks several crops.
_SCAB = (
    N_("A fungal disease (Venturia inaequalis): olive-green to black, velvety spots on the "
       "leaves and corky, cracked spots on the fruit. It overwinters in fallen leaves and "
       "spreads with spring rain."),
    N_("Rake up or shred fallen leaves in autumn and prune for an open, airy canopy; plant "
       "resistant varieties when replanting. In a wet spring protective fungicide sprays may "
       "be needed: follow the local plant protection station's advice and the label's dose "
       "and pre-harvest interval."),
)
_APPLE_BLACK_ROT = (
    N_("A fungal disease (Botryosphaeria obtusa): purple-edged 'frog-eye' spots on the "
       "leaves, fruit that rots, turns black and shrivels, and cankers on the branches."),
    N_("Cut out dead wood, cankers and dried fruit left on the tree and take them out of the "
       "orchard; avoid wounding the bark and keep the trees vigorous. If it spreads, ask the "
       "local plant protection station which fungicide to use and follow the label's dose."),
)
_CEDAR_RUST = (
    N_("A rust fungus (Gymnosporangium juniperi-virginianae) that needs two hosts, apple and "
       "juniper: bright yellow-orange spots on apple leaves in spring and summer."),
    N_("Where practical remove nearby junipers or their orange galls, and plant resistant "
       "apple varieties. Protective sprays in spring pay only where the disease is common: "
       "follow the local plant protection station's advice and the label's dose."),
)
_POWDERY_MILDEW = (
    N_("A fungal disease (Podosphaera clandestina): white, powdery patches on young leaves "
       "and shoots, which curl and may turn yellow. Warm days and humid nights favour it."),
    N_("Prune for air and light, avoid too much nitrogen fertiliser and wetting the leaves, "
       "and remove badly infected shoots. If it spreads before harvest, ask the local plant "
       "protection station which fungicide to use and follow the label's dose and "
       "pre-harvest interval."),
)
_GRAY_LEAF_SPOT = (
    N_("A fungal disease (Cercospora zeae-maydis): long, narrow, rectangular grey to tan "
       "spots between the leaf veins. It survives in maize residue and is worst in warm, "
       "humid weather."),
    N_("Rotate with crops other than maize, bury or remove the residue after harvest and grow "
       "tolerant hybrids. A fungicide pays only when spots reach the upper leaves before "
       "grain filling: follow the local plant protection station's advice and the label's "
       "dose."),
)
_COMMON_RUST = (
    N_("A rust fungus (Puccinia sorghi): small, powdery, cinnamon-brown pustules on both "
       "sides of the leaves, carried by the wind. Cool, humid weather favours it."),
    N_("Grow resistant hybrids and sow at the recommended time. Most fields need no spray; "
       "on susceptible or seed crops with many pustules early in the season, ask the local "
       "plant protection station and follow the label's dose."),
)
_NORTHERN_LEAF_BLIGHT = (
    N_("A fungal disease (Exserohilum turcicum): long, cigar-shaped, grey-green to tan "
       "lesions, first on the lower leaves. It survives in crop residue and spreads in mild, "
       "wet weather."),
    N_("Grow resistant hybrids, rotate crops and bury or remove the residue. If lesions reach "
       "the upper leaves around tasselling, ask the local plant protection station whether a "
       "fungicide is needed and follow the label's dose."),
)
_GRAPE_BLACK_ROT = (
    N_("A fungal disease (Guignardia bidwellii): tan leaf spots with dark borders and black "
       "dots, and berries that turn brown, then black, hard and shrivelled."),
    N_("Remove shrivelled berries and infected canes when pruning and keep the canopy open so "
       "it dries fast. Where the disease is common, protective sprays from shoot growth to "
       "fruit set are often needed: follow the local plant protection station's advice and "
       "the label's dose and pre-harvest interval."),
)
_ESCA = (
    N_("A trunk disease caused by several wood-rotting fungi: yellow or red 'tiger stripes' "
       "between the leaf veins, dark spots on the berries, and sometimes a whole vine "
       "wilting suddenly."),
    N_("No spray cures it. Mark affected vines, prune them last and in dry weather, remove "
       "and destroy infected wood and protect large pruning wounds. Replace dead vines with "
       "healthy planting material, and ask the local plant protection station for advice."),
)
_ISARIOPSIS = (
    N_("A fungal disease (Pseudocercospora vitis): irregular dark brown spots on older "
       "leaves, which dry and drop early. It appears late in the season in warm, humid "
       "weather."),
    N_("Collect and destroy fallen leaves, open the canopy to the air and avoid wetting the "
       "leaves. Sprays against other grape diseases usually control it too: follow the local "
       "plant protection station's advice and the label's dose."),
)
_BACTERIAL_SPOT = (
    N_("A bacterial disease (Xanthomonas species): small, dark, water-soaked spots on leaves "
       "and fruit that turn brown and scabby; leaves yellow and drop. It spreads with "
       "splashing water, hands and tools, and with seed."),
    N_("Use clean seed and healthy seedlings, rotate crops for at least two years, avoid "
       "overhead watering and do not work among wet plants. Remove badly infected plants and "
       "crop debris. Copper sprays only slow it down: follow the local plant protection "
       "station's advice and the label's dose."),
)
_EARLY_BLIGHT = (
    N_("A fungal disease (Alternaria solani): brown spots with rings like a target, often "
       "with a yellow halo, first on the older, lower leaves. Worst on stressed plants in "
       "warm weather with dew or rain."),
    N_("Rotate with crops outside the potato and tomato family, remove infected lower leaves "
       "and crop debris, mulch, water at the base and keep the plants well fed. If spots "
       "climb the plant, ask the local plant protection station which fungicide to use and "
       "follow the label's dose."),
)
_LATE_BLIGHT = (
    N_("A fast-spreading water mould (Phytophthora infestans): dark, water-soaked patches on "
       "leaves and stems, with white mould underneath in humid weather. In cool, wet weather "
       "it can destroy a field within days."),
    N_("Act at once: pull out and destroy infected plants (do not compost them), avoid "
       "overhead watering and warn your neighbours. Use healthy seed tubers or seedlings and "
       "resistant varieties. Protective sprays are usually needed while the weather favours "
       "the disease: follow the local plant protection station's forecasts and advice and "
       "the label's dose."),
)
_LEAF_SCORCH = (
    N_("A fungal disease (Diplocarpon earlianum): many small, dark purple spots on the "
       "leaves that merge until the leaf looks scorched and dries up."),
    N_("Plant healthy runners of tolerant varieties, give the plants room, water at the base, "
       "remove old infected leaves after harvest and renew old beds. Ask the local plant "
       "protection station before using any fungicide and follow the label's dose."),
)
_LEAF_MOLD = (
    N_("A fungal disease (Passalora fulva): pale yellow spots on the upper side of the leaves "
       "and olive-green to brown, velvety mould underneath. Common in greenhouses and net "
       "houses with high humidity."),
    N_("Lower the humidity: ventilate, space the plants, remove the lower leaves and water in "
       "the morning at the base. Remove infected leaves and grow resistant varieties. If "
       "needed, ask the local plant protection station which fungicide to use and follow the "
       "label's dose."),
)
_SEPTORIA = (
    N_("A fungal disease (Septoria lycopersici): many small, round spots with dark edges and "
       "grey centres holding tiny black dots, first on the lower leaves, which yellow and "
       "fall."),
    N_("Remove infected lower leaves and crop debris, rotate crops, mulch, water at the base "
       "and control nightshade weeds. If it spreads, follow the local plant protection "
       "station's advice on fungicides and the label's dose."),
)
_SPIDER_MITES = (
    N_("Not a disease but tiny mites (Tetranychus urticae) feeding under the leaves: fine "
       "pale speckles, yellowing and, when bad, fine webbing. Hot, dry, dusty conditions "
       "favour them."),
    N_("Check the undersides of the leaves. Spray the plants with water, remove badly "
       "infested leaves, control weeds and spare natural enemies such as predatory mites by "
       "avoiding broad-spectrum insecticides. If a miticide is needed, ask the local plant "
       "protection station, follow the label's dose and alternate products against "
       "resistance."),
)
_TARGET_SPOT = (
    N_("A fungal disease (Corynespora cassiicola): brown spots with rings on leaves, stems "
       "and fruit, which can strip the plants of leaves in warm, humid weather."),
    N_("Space and prune the plants for air, remove infected leaves and crop debris, avoid "
       "overhead watering and rotate crops. If needed, ask the local plant protection "
       "station which fungicide to use and follow the label's dose."),
)
_YELLOW_LEAF_CURL = (
    N_("A virus (tomato yellow leaf curl virus) carried by whiteflies: young leaves curl "
       "upwards, stay small and turn yellow at the edges; plants are stunted and set little "
       "fruit. Infected plants do not recover."),
    N_("Pull out and destroy infected plants early. Keep whiteflies down: insect-proof net "
       "over seedlings, yellow sticky traps, weeding, and no new tomatoes next to older "
       "infected ones. Plant resistant varieties. Ask the local plant protection station "
       "before using insecticides and follow the label's dose."),
)
_MOSAIC = (
    N_("A virus (tomato mosaic virus): light and dark green mottling on the leaves, which may "
       "be distorted or fern-like; fruit may ripen unevenly. It spreads on hands, tools and "
       "clothes and survives long in plant debris and on seed."),
    N_("No spray cures it. Remove infected plants, wash hands and disinfect tools after "
       "handling plants, do not smoke near them, use clean seed and resistant varieties, and "
       "rotate crops. Ask the local plant protection station for advice."),
)
_HEALTHY = (
    N_("No disease was recognised on this leaf."),
    N_("Keep scouting regularly, above all after rain or in humid weather, and photograph any "
       "leaf with spots, mould or discolouring."),
)

#: The "what it is" and "what to do" msgids of every class label of the shipped model.
ADVICE_TEXTS: dict[str, tuple[str, str]] = {
    "Apple___Apple_scab": _SCAB,
    "Apple___Black_rot": _APPLE_BLACK_ROT,
    "Apple___Cedar_apple_rust": _CEDAR_RUST,
    "Apple___healthy": _HEALTHY,
    "Cherry_(including_sour)___Powdery_mildew": _POWDERY_MILDEW,
    "Cherry_(including_sour)___healthy": _HEALTHY,
    "Corn_(maize)___Cercospora_leaf_spot Gray_leaf_spot": _GRAY_LEAF_SPOT,
    "Corn_(maize)___Common_rust_": _COMMON_RUST,
    "Corn_(maize)___Northern_Leaf_Blight": _NORTHERN_LEAF_BLIGHT,
    "Corn_(maize)___healthy": _HEALTHY,
    "Grape___Black_rot": _GRAPE_BLACK_ROT,
    "Grape___Esca_(Black_Measles)": _ESCA,
    "Grape___Leaf_blight_(Isariopsis_Leaf_Spot)": _ISARIOPSIS,
    "Grape___healthy": _HEALTHY,
    "Pepper,_bell___Bacterial_spot": _BACTERIAL_SPOT,
    "Pepper,_bell___healthy": _HEALTHY,
    "Potato___Early_blight": _EARLY_BLIGHT,
    "Potato___Late_blight": _LATE_BLIGHT,
    "Potato___healthy": _HEALTHY,
    "Strawberry___Leaf_scorch": _LEAF_SCORCH,
    "Strawberry___healthy": _HEALTHY,
    "Tomato___Bacterial_spot": _BACTERIAL_SPOT,
    "Tomato___Early_blight": _EARLY_BLIGHT,
    "Tomato___Late_blight": _LATE_BLIGHT,
    "Tomato___Leaf_Mold": _LEAF_MOLD,
    "Tomato___Septoria_leaf_spot": _SEPTORIA,
    "Tomato___Spider_mites Two-spotted_spider_mite": _SPIDER_MITES,
    "Tomato___Target_Spot": _TARGET_SPOT,
    "Tomato___Tomato_Yellow_Leaf_Curl_Virus": _YELLOW_LEAF_CURL,
    "Tomato___Tomato_mosaic_virus": _MOSAIC,
    "Tomato___healthy": _HEALTHY,
}

#: Crop and disease names as the parts module writes them, marked for extraction.
NAMES = (
    N_("Apple"), N_("Cherry (including sour)"), N_("Corn (maize)"), N_("Grape"),
    N_("Pepper, bell"), N_("Potato"), N_("Strawberry"), N_("Tomato"),
    N_("Scab"), N_("Black rot"), N_("Cedar apple rust"), N_("healthy"), N_("Powdery mildew"),
    N_("Cercospora leaf spot (gray leaf spot)"), N_("Common rust"), N_("Northern leaf blight"),
    N_("Esca (black measles)"), N_("Leaf blight (isariopsis leaf spot)"), N_("Bacterial spot"),
    N_("Early blight"), N_("Late blight"), N_("Leaf scorch"), N_("Leaf mold"),
    N_("Septoria leaf spot"), N_("Spider mites (two-spotted spider mite)"), N_("Target spot"),
    N_("Yellow leaf curl virus"), N_("Mosaic virus"),
)


class UnknownLabel(KeyError):
    """No advice for this label."""


def advice_for(label: str) -> Advice:
    """The msgids for ``label``; UnknownLabel if the catalog has none."""
    try:
        what_it_is, what_to_do = ADVICE_TEXTS[label]
    except KeyError:
        raise UnknownLabel(label) from None
    return Advice(crop_name(label), disease_name(label), what_it_is, what_to_do)


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> dict[str, str]:
    """msgid → translation of the ``diseases`` catalog of ``lang`` (empty for English);
    fuzzy or empty entries are left out, so they fall back to English."""
    if lang == "en":
        return {}
    from babel.messages.pofile import read_po

    with open(catalog_path(lang), "rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    return {str(m.id): str(m.string) for m in catalog
            if m.id and isinstance(m.string, str) and m.string and not m.fuzzy}


def translate(msgid: str, lang: str) -> str:
    return translations(lang).get(msgid, msgid)
