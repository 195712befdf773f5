#!/usr/bin/env python3
"""Generate the curated anatomy tables for anatloc (stdlib only).

Writes, next to this script:
  terms.tsv      one row per term (8 regions, 124 coarse, 387 fine locations)
  relations.tsv  curated surrounds / contralateral_to / adjacent_to relations
  landmarks.tsv  fine terms used as landmarks in positional phrases

Every definition and synonym below is written by hand for this project.  Paired
structures are written once with {s} (left/right) placeholders and expanded for
both sides; where the two sides differ anatomically the text is given per side.
Regular families (vertebrae, ribs) are written per member with level-specific facts.

Run:  python tools/curation/build_tables.py && python tools/curation/check_knowledge.py
"""

from __future__ import annotations

import itertools
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))

TERMS: dict[tuple[str, str], dict] = {}
ORDER: list[tuple[str, str]] = []

SIDES = ("left", "right")


def _fmt(text, s):
    if text is None:
        return None
    if isinstance(text, dict):
        text = text[s]
    return text.format(s=s, S=s.capitalize())


def add(level, label, lat, tissue, definition, exact=(), related=(), pref="", xref=""):
    key = (level, label)
    if key in TERMS:
        raise SystemExit(f"duplicate term {key}")
    exact = list(exact)
    if pref == 0:
        pref = exact[0]
    TERMS[key] = dict(
        level=level,
        label=label,
        laterality=lat,
        tissue=tissue,
        definition=definition,
        exact=exact,
        related=list(related),
        preferred=pref or "",
        xref=xref,
    )
    ORDER.append(key)


def sided(level, label, tissue, definition, exact=(), related=(), pref=""):
    """Add the left and the right member of a paired term."""
    for s in SIDES:
        ex = [_fmt(e, s) for e in (exact[s] if isinstance(exact, dict) else exact)]
        rel = [_fmt(r, s) for r in (related[s] if isinstance(related, dict) else related)]
        p = ex[0] if pref == 0 else _fmt(pref, s)
        add(level, _fmt(label, s), s, tissue, _fmt(definition, s), ex, rel, p)


# ---------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------
add(
    "region",
    "Head",
    "unsided",
    "mixed",
    "The body region above the neck: skull, brain, face, eyes, ears, nose and scalp soft "
    "tissues; by convention of this vocabulary it also holds the outside-the-body location.",
)
add(
    "region",
    "Neck",
    "unsided",
    "mixed",
    "The body region between the skull base and mandible above and the clavicles and "
    "thoracic inlet below, holding the pharynx, larynx, tongue, thyroid, salivary glands, "
    "cervical muscles and lymph nodes.",
)
add(
    "region",
    "Chest",
    "unsided",
    "mixed",
    "The thoracic region from the thoracic inlet down to the diaphragm, including the lungs, "
    "mediastinum, heart, breasts, axillae and the chest wall and upper back soft tissues.",
    related=["thorax"],
)
add(
    "region",
    "Abdomen",
    "unsided",
    "mixed",
    "The body region between the diaphragm and the pelvic inlet, containing the peritoneal "
    "and retroperitoneal organs, the bowel, the abdominal wall, the navel and the lower back "
    "soft tissues.",
)
add(
    "region",
    "Pelvis",
    "unsided",
    "mixed",
    "The body region below the pelvic inlet, containing the bladder, reproductive organs, "
    "urethra, pelvic vessels, pelvic peritoneum and mesentery, with the inguinal regions at "
    "its anterior border.",
)
add(
    "region",
    "Axial skeleton",
    "unsided",
    "bone",
    "The trunk skeleton as grouped here: the vertebral column from the atlas to the coccyx, "
    "the sternum, the ribs and both hip bones, each with its immediately adjacent soft tissue.",
)
add(
    "region",
    "Upper limb",
    "unsided",
    "mixed",
    "Both upper limbs from the shoulder girdle to the hand: scapulae, humeri, forearm bones, "
    "shoulder and elbow joints, muscles, subcutaneous tissue and the epitrochlear nodal "
    "regions.",
)
add(
    "region",
    "Lower limb",
    "unsided",
    "mixed",
    "Both lower limbs from the buttocks to the feet: femora, patellae, tibiae and fibulae, "
    "the gluteal, thigh and calf muscles, subcutaneous tissue, knees and popliteal fossae.",
)

# ---------------------------------------------------------------------------
# Head
# ---------------------------------------------------------------------------
add(
    "coarse",
    "Outside the body",
    "unsided",
    "outside_body",
    "The coarse reporting class for findings lying outside the patient, such as skin "
    "markers, tubing, syringes, or tracer contamination on clothing, bed or skin surface.",
)
add(
    "fine",
    "Outside the body",
    "unsided",
    "outside_body",
    "A location external to the patient's body: activity or densities from markers, lines, "
    "tubing, spilled urine or tracer contamination on the skin surface, clothing or scanner "
    "bed.",
    ["external to the patient", "extracorporeal"],
    ["external contamination", "tracer contamination"],
    pref=0,
)

add(
    "coarse",
    "Skull",
    "unsided",
    "bone",
    "The coarse reporting group for the bones of the head: cranial vault and base, mastoid "
    "processes, maxilla, mandible and the tooth-bearing alveolar parts of both jaws.",
)
add(
    "fine",
    "Skull",
    "unsided",
    "bone",
    "The cranial vault and skull base bones enclosing the brain (frontal, parietal, "
    "occipital, temporal, sphenoid, ethmoid), used when no facial, jaw or mastoid site is "
    "more specific.",
    ["cranium", "cranial bones"],
    ["calvarium", "skull base", "cranial vault"],
)
sided(
    "fine",
    "{S} mastoid process",
    "bone",
    "The {s} mastoid process, the air-cell-containing projection of the {s} temporal bone "
    "behind the external ear canal, to which the sternocleidomastoid muscle attaches.",
    ["{s} mastoid", "mastoid process of the {s} temporal bone"],
    ["{s} mastoid air cells"],
)
add(
    "fine",
    "Maxilla",
    "unsided",
    "bone",
    "The upper jaw, formed by the paired maxillae, which carry the upper teeth, form the "
    "orbital floors and the lateral nasal walls, and enclose the maxillary sinuses.",
    ["upper jaw", "maxillary bone"],
    ["maxillae"],
)
add(
    "fine",
    "Mandible",
    "unsided",
    "bone",
    "The lower jaw, a U-shaped bone whose horizontal body bears the lower teeth and whose two "
    "rami rise to the temporomandibular joints in front of the ears.",
    ["lower jaw", "mandibular bone"],
    ["mandibular ramus", "mandibular body", "jaw"],
)
add(
    "fine",
    "Upper alveolar cavity",
    "unsided",
    "bone",
    "The tooth-bearing alveolar process of the maxilla with its tooth sockets and covering "
    "gingiva, along the upper dental arch just below the maxillary sinuses.",
    ["maxillary alveolar process", "upper alveolar ridge"],
    ["upper gingiva", "maxillary tooth sockets"],
    pref=0,
)
add(
    "fine",
    "Lower alveolar cavity",
    "unsided",
    "bone",
    "The tooth-bearing alveolar part of the mandible with its tooth sockets and covering "
    "gingiva, along the lower dental arch above the mandibular canal.",
    ["mandibular alveolar process", "lower alveolar ridge"],
    ["lower gingiva", "mandibular tooth sockets"],
    pref=0,
)

add(
    "coarse",
    "Brain",
    "unsided",
    "brain",
    "The coarse reporting location for the brain, grouping all intracranial neural tissue "
    "(cerebral hemispheres, deep grey nuclei, brainstem, cerebellum) as one head location.",
)
add(
    "fine",
    "Brain",
    "unsided",
    "brain",
    "The brain parenchyma within the cranial cavity: cerebrum, basal ganglia and thalami, "
    "brainstem and cerebellum, where physiological grey-matter FDG uptake is intense.",
    ["brain parenchyma", "encephalon"],
    ["cerebrum", "cerebellum", "brainstem", "intracranial"],
    xref="UBERON:0000955",
)

sided(
    "coarse",
    "{S} occipital region",
    "mixed",
    "The coarse reporting group for the soft tissues over the {s} back of the head: the {s} "
    "occipital muscle and the overlying scalp subcutaneous tissue.",
    related=["{s} occipital scalp"],
)
sided(
    "fine",
    "{S} occipital muscle",
    "muscle",
    "The occipital belly of the {s} occipitofrontalis, a thin flat muscle on the back of the "
    "skull above the superior nuchal line, beneath the {s} posterior scalp.",
    ["{s} occipitalis muscle", "{s} occipital belly of occipitofrontalis"],
    pref=0,
)
sided(
    "fine",
    "{S} occipital subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat and connective tissue of the {s} posterior scalp, between the skin "
    "and the occipital muscle and galea overlying the occipital bone.",
    ["{s} occipital subcutaneous fat", "{s} posterior scalp subcutaneous tissue"],
)
sided(
    "coarse",
    "{S} head",
    "mixed",
    "The coarse reporting group for the {s} facial soft tissues: the {s} muscles of facial "
    "expression and mastication and the overlying facial subcutaneous tissue.",
    related=["{s} side of the face"],
)
sided(
    "fine",
    "{S} facial muscle",
    "muscle",
    "The muscles of the {s} face: the thin muscles of facial expression and the masseter "
    "and temporalis muscles of mastication lying over the {s} facial skeleton.",
    ["{s} facial musculature"],
    ["{s} masseter muscle", "{s} temporalis muscle"],
    pref=0,
)
sided(
    "fine",
    "{S} facial subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} face, including the malar and buccal fat, between the "
    "facial skin and the underlying mimetic muscles, parotid gland and facial bones.",
    ["{s} facial subcutaneous fat"],
    ["{s} cheek soft tissue", "{s} buccal fat pad"],
)
sided(
    "coarse",
    "{S} eye",
    "sensory_organ",
    "The coarse reporting location for the {s} eye, grouping the {s} globe and the other "
    "{s} intraorbital tissues as one head location.",
    related=["{s} orbital region"],
)
sided(
    "fine",
    "{S} eye",
    "sensory_organ",
    "The {s} eye and orbital contents: the {s} globe, extraocular muscles, optic nerve and "
    "retrobulbar fat within the bony {s} orbit.",
    ["{s} eyeball", "{s} globe", "{s} orbital contents"],
    ["{s} orbit", "{s} extraocular muscles"],
)
sided(
    "coarse",
    "{S} ear",
    "sensory_organ",
    "The coarse reporting location for the {s} ear, grouping the {s} auricle, external "
    "canal and the middle and inner ear as one head location.",
)
sided(
    "fine",
    "{S} ear",
    "sensory_organ",
    "The {s} ear: the auricle and external auditory canal, the middle ear cavity and the "
    "inner ear within the petrous part of the {s} temporal bone.",
    related=["{s} auricle", "{s} external auditory canal", "{s} middle ear"],
)
add(
    "coarse",
    "Nose",
    "midline",
    "airway",
    "The coarse reporting group for the nose and its air spaces: both nasal cavities and "
    "the paranasal sinuses of each side.",
    related=["sinonasal tract"],
)
sided(
    "fine",
    "{S} nasal cavity",
    "airway",
    "The {s} half of the nasal cavity, between the nasal septum and the {s} lateral nasal "
    "wall with its turbinates, from the {s} nostril back to the {s} choana.",
    ["{s} nasal passage", "{s} nasal fossa"],
    ["{s} nasal turbinates"],
)
sided(
    "fine",
    "{S} nasal sinus",
    "airway",
    "The {s} paranasal sinuses, the air-filled maxillary, ethmoid, frontal and sphenoid "
    "cavities of the {s} side that drain into the {s} nasal cavity.",
    ["{s} paranasal sinuses"],
    ["{s} maxillary sinus", "{s} ethmoid sinus", "{s} frontal sinus", "{s} sphenoid sinus"],
    pref=0,
)

# ---------------------------------------------------------------------------
# Neck
# ---------------------------------------------------------------------------
add(
    "coarse",
    "Tongue",
    "midline",
    "muscle",
    "The coarse reporting group for the tongue, grouping the whole tongue with its base in "
    "the oropharynx as one neck location.",
)
add(
    "fine",
    "Tongue",
    "midline",
    "muscle",
    "The tongue as an organ, the muscular structure on the floor of the mouth; used for "
    "lesions of the mobile oral tongue or not confined to the tongue base.",
    related=["oral tongue", "mobile tongue", "anterior two-thirds of the tongue"],
    xref="UBERON:0001723",
)
add(
    "fine",
    "Base of tongue",
    "midline",
    "muscle",
    "The posterior third of the tongue behind the sulcus terminalis and circumvallate "
    "papillae, forming the anterior wall of the oropharynx and carrying the lingual tonsil.",
    ["tongue base", "posterior third of the tongue"],
    ["lingual tonsil", "vallecula"],
)
add(
    "coarse",
    "Pharynx",
    "midline",
    "airway",
    "The coarse reporting group for the pharynx and related throat structures: nasopharynx, "
    "oropharynx with the palatine tonsils, the retropharyngeal nodes and the larynx.",
    related=["throat"],
)
add(
    "fine",
    "Nasopharynx",
    "midline",
    "airway",
    "The upper part of the pharynx behind the nasal cavities and above the soft palate, with "
    "the eustachian tube openings, the fossae of Rosenmüller and the adenoids.",
    ["postnasal space", "epipharynx"],
    ["adenoids", "fossa of Rosenmüller"],
)
sided(
    "fine",
    "{S} retropharyngeal",
    "lymph_node_station",
    "The {s} retropharyngeal lymph nodes in the retropharyngeal space, behind the pharyngeal "
    "constrictors and in front of the prevertebral muscles, chiefly at the C1 to C2 level.",
    ["{s} retropharyngeal lymph nodes", "{s} lateral retropharyngeal node"],
    ["{s} node of Rouvière", "{s} retropharyngeal space"],
    pref=0,
)
add(
    "fine",
    "Oropharynx",
    "midline",
    "airway",
    "The middle part of the pharynx behind the oral cavity, from the soft palate down to the "
    "level of the hyoid and vallecula, including the tonsillar fossae and posterior "
    "pharyngeal wall.",
    ["mesopharynx"],
    ["posterior pharyngeal wall", "soft palate", "tonsillar fossa"],
)
sided(
    "fine",
    "{S} tonsil",
    "lymph_node_station",
    "The {s} palatine tonsil, lymphoid tissue of Waldeyer's ring in the {s} tonsillar fossa "
    "between the palatoglossal and palatopharyngeal arches of the oropharyngeal wall.",
    ["{s} palatine tonsil", "{s} faucial tonsil"],
    ["{s} tonsillar pillar"],
    pref=0,
)
add(
    "fine",
    "Larynx",
    "midline",
    "airway",
    "The voice box between the pharynx and the trachea at about C3 to C6, comprising the "
    "epiglottis, supraglottis, glottis with the vocal cords and the subglottis.",
    ["voice box"],
    ["glottis", "supraglottis", "subglottis", "vocal cords", "epiglottis"],
    xref="UBERON:0001737",
)
sided(
    "coarse",
    "{S} neck",
    "mixed",
    "The coarse reporting group for the {s} side of the neck: its nodes, parapharyngeal "
    "space, muscles, subcutaneous tissue, parotid and submandibular glands, clavicle and "
    "supraclavicular fossa.",
)
sided(
    "fine",
    "{S} neck",
    "mixed",
    "The {s} side of the neck not otherwise specified, chiefly the {s} cervical lymph node "
    "chains along the jugular vessels and in the posterior triangle, from skull base to "
    "clavicle.",
    ["{s} side of the neck", "{s} cervical region"],
    ["{s} cervical lymph nodes", "{s} jugular chain", "{s} posterior cervical triangle"],
)
sided(
    "fine",
    "{S} parapharyngeal",
    "space",
    "The {s} parapharyngeal space, a fat-filled inverted pyramid lateral to the pharynx "
    "between the constrictor muscles and the masticator space and deep parotid lobe, from "
    "skull base to hyoid.",
    ["{s} parapharyngeal space"],
    ["{s} prestyloid space"],
    pref=0,
)
sided(
    "fine",
    "{S} neck muscle",
    "muscle",
    "The muscles of the {s} neck: sternocleidomastoid, scalenes, strap muscles, levator "
    "scapulae, the cervical trapezius and the deep posterior neck muscles.",
    ["{s} neck musculature", "{s} cervical musculature"],
    ["{s} sternocleidomastoid muscle", "{s} scalene muscles", "{s} trapezius"],
    pref=0,
)
sided(
    "fine",
    "{S} neck subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} neck between the skin and the platysma or superficial "
    "cervical fascia, from the mandible down to the clavicle.",
    ["{s} neck subcutaneous fat", "{s} cervical subcutaneous tissue"],
)
sided(
    "fine",
    "{S} parotid gland",
    "gland",
    "The {s} parotid gland, the largest salivary gland, lying in front of the {s} ear and "
    "mastoid and wrapping round the back of the mandibular ramus, with intraparotid nodes.",
    ["{s} parotid"],
    ["{s} intraparotid lymph nodes"],
)
sided(
    "fine",
    "{S} submandibular gland",
    "gland",
    "The {s} submandibular salivary gland in the {s} submandibular triangle below the body "
    "of the mandible, curving round the back edge of the mylohyoid muscle.",
    ["{s} submaxillary gland"],
    ["{s} submandibular triangle"],
)
sided(
    "fine",
    "{S} clavicle",
    "bone",
    "The {s} collarbone, the S-shaped bone at the base of the neck joining the {s} acromion "
    "of the scapula to the manubrium of the sternum.",
    ["{s} collarbone"],
    ["{s} acromioclavicular joint"],
)
sided(
    "fine",
    "{S} supraclavicular",
    "lymph_node_station",
    "The {s} supraclavicular fossa and its lymph nodes, the hollow above the medial {s} "
    "clavicle behind and lateral to the lower sternocleidomastoid muscle.",
    ["{s} supraclavicular fossa", "{s} supraclavicular lymph nodes", "{s} supraclavicular region"],
    {"left": ["Virchow node", "Troisier node"], "right": []},
    pref=0,
)
add(
    "coarse",
    "Thyroid gland",
    "midline",
    "gland",
    "The coarse reporting location for the thyroid gland as a whole, grouping its two lobes "
    "and the isthmus in the lower anterior neck.",
    ["thyroid"],
    ["thyroid bed"],
    xref="UBERON:0002046",
)
sided(
    "fine",
    "{S} lobe of thyroid",
    "gland",
    "The {s} lobe of the thyroid gland, lying against the {s} side of the larynx and upper "
    "trachea from the thyroid cartilage down to about the sixth tracheal ring.",
    ["{s} thyroid lobe"],
    ["{s} thyroid"],
)
add(
    "fine",
    "Isthmus of thyroid",
    "midline",
    "gland",
    "The narrow band of thyroid tissue crossing in front of the second to fourth tracheal "
    "rings and joining the two thyroid lobes.",
    ["thyroid isthmus"],
    ["pyramidal lobe of the thyroid"],
)

# ---------------------------------------------------------------------------
# Chest
# ---------------------------------------------------------------------------
sided(
    "coarse",
    "{S} chest",
    "mixed",
    "The coarse reporting group for the {s} anterior and lateral chest wall: its muscles, "
    "subcutaneous fat, pectoral nodal spaces, internal mammary nodes, costophrenic angle "
    "and chest wall joints.",
    related=["{s} hemithorax wall"],
)
sided(
    "fine",
    "{S} chest muscle",
    "muscle",
    "The muscles of the {s} anterior and lateral chest wall, chiefly pectoralis major and "
    "minor, serratus anterior and the intercostal muscles.",
    ["{s} chest wall musculature"],
    [
        "{s} pectoralis major muscle",
        "{s} pectoral muscles",
        "{s} serratus anterior muscle",
        "{s} intercostal muscles",
    ],
    pref=0,
)
sided(
    "fine",
    "{S} chest subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} anterior and lateral chest wall between the skin and "
    "the pectoral or serratus fascia, outside the breast parenchyma.",
    ["{s} chest wall subcutaneous fat", "{s} thoracic subcutaneous tissue"],
)
sided(
    "fine",
    "Inner side of the {s} pectoralis minor muscle",
    "lymph_node_station",
    "The tissue on the medial (inner) side of the {s} pectoralis minor muscle below the "
    "clavicle, holding the level III (apical, infraclavicular) axillary lymph nodes along "
    "the axillary vein.",
    ["medial to the {s} pectoralis minor muscle", "{s} axillary level III"],
    ["{s} infraclavicular lymph nodes", "{s} apical axillary lymph nodes"],
    pref=0,
)
sided(
    "fine",
    "{S} interpectoral space",
    "lymph_node_station",
    "The fat plane between the {s} pectoralis major and pectoralis minor muscles, holding "
    "the interpectoral (Rotter) lymph nodes.",
    ["{s} Rotter space", "{s} interpectoral region"],
    ["{s} Rotter lymph nodes", "{s} interpectoral lymph nodes"],
)
sided(
    "fine",
    "{S} chest wall",
    "mixed",
    "The {s} thoracic wall as a whole (ribs, intercostal spaces, parietal pleura and the "
    "overlying muscle and fat), used for lesions spanning these layers or on the pleural "
    "surface.",
    ["{s} thoracic wall"],
    ["{s} parietal pleura", "{s} pleura", "{s} intercostal space"],
)
sided(
    "fine",
    "{S} internal mammary region",
    "lymph_node_station",
    "The {s} parasternal strip along the {s} internal thoracic artery and vein, deep to the "
    "costal cartilages in the upper intercostal spaces, holding the internal mammary lymph "
    "nodes.",
    [
        "{s} internal mammary lymph nodes",
        "{s} parasternal lymph nodes",
        "{s} internal thoracic lymph nodes",
    ],
    ["{s} internal mammary chain"],
)
sided(
    "fine",
    "{S} costophrenic angle",
    "space",
    "The {s} costophrenic recess, the lowest lateral and posterior part of the {s} pleural "
    "cavity, where the {s} hemidiaphragm meets the chest wall.",
    ["{s} costophrenic recess", "{s} costodiaphragmatic recess", "{s} CP angle"],
    pref=0,
)
sided(
    "fine",
    "{S} sternocostal joint",
    "joint",
    "The {s} sternocostal joints, where the costal cartilages of the {s} first to seventh "
    "ribs articulate with the lateral border of the sternum.",
    ["{s} costosternal joints", "{s} chondrosternal joints"],
    ["{s} costochondral junctions"],
)
sided(
    "fine",
    "{S} sternoclavicular joint",
    "joint",
    "The {s} sternoclavicular joint between the medial end of the {s} clavicle, the "
    "clavicular notch of the manubrium and the first costal cartilage.",
    ["{s} SC joint", "{s} sternoclavicular articulation"],
)
sided(
    "fine",
    "{S} costovertebral joint",
    "joint",
    "The {s} costovertebral joints, where the heads of the {s} ribs meet the thoracic "
    "vertebral bodies and the rib tubercles meet the transverse processes.",
    ["{s} costovertebral articulations"],
    ["{s} costotransverse joints"],
)

sided(
    "coarse",
    "{S} axilla",
    "lymph_node_station",
    "The coarse reporting group for the {s} axilla, grouping the {s} axillary fat and lymph "
    "nodes with the tissue deep to the {s} latissimus dorsi at the posterior axillary wall.",
)
sided(
    "fine",
    "{S} axilla",
    "lymph_node_station",
    "The {s} armpit, the fat-filled pyramidal space between the {s} chest wall, upper arm "
    "and axillary folds, holding the axillary vessels and the axillary lymph nodes.",
    ["{s} armpit", "{s} axillary lymph nodes", "{s} axillary fossa"],
    ["{s} axillary level I", "{s} axillary region"],
)
sided(
    "fine",
    "Deep aspect of {s} latissimus dorsi",
    "space",
    "The soft tissue on the deep surface of the {s} latissimus dorsi at the posterior "
    "axillary wall, beside the lateral border of the scapula and the subscapular vessels.",
    ["deep to the {s} latissimus dorsi", "beneath the {s} latissimus dorsi muscle"],
    ["{s} posterior axillary wall", "{s} subscapular lymph nodes"],
    pref=0,
)
sided(
    "coarse",
    "{S} breast",
    "mixed",
    "The coarse reporting group for the {s} breast, grouping the whole breast, its "
    "nipple-areolar complex and the {s} mammary glandular tissue.",
)
sided(
    "fine",
    "{S} breast",
    "mixed",
    "The {s} breast as a whole (skin, subcutaneous fat and fibroglandular tissue) on the {s} "
    "anterior chest wall in front of pectoralis major, extending as a tail toward the axilla.",
    ["{s} mammary region"],
    ["{s} axillary tail of the breast"],
)
sided(
    "fine",
    "{S} nipple",
    "skin_surface",
    "The {s} nipple and surrounding areola, the pigmented skin projection at the centre of "
    "the {s} breast where the lactiferous ducts open.",
    ["{s} nipple-areolar complex"],
    ["{s} areola"],
)
sided(
    "fine",
    "{S} mammary gland",
    "gland",
    "The fibroglandular parenchyma of the {s} breast (lobules, ducts and supporting stroma), "
    "as distinct from the breast skin, nipple and subcutaneous fat.",
    ["{s} breast parenchyma", "{s} fibroglandular breast tissue"],
    ["{s} lactiferous ducts"],
)
sided(
    "coarse",
    "{S} upper back",
    "mixed",
    "The coarse reporting group for the soft tissues of the {s} upper back over the thoracic "
    "spine and scapula: the {s} upper back muscles and subcutaneous tissue.",
)
sided(
    "fine",
    "{S} upper back muscle",
    "muscle",
    "The muscles of the {s} upper back: trapezius, rhomboids, upper latissimus dorsi and the "
    "thoracic erector spinae and other paraspinal muscles on the {s} side of the spine.",
    ["{s} upper back musculature", "{s} thoracic back muscles"],
    ["{s} thoracic paraspinal muscles", "{s} rhomboid muscles", "{s} trapezius muscle"],
    pref=0,
)
sided(
    "fine",
    "{S} upper back subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} upper back between the skin and the trapezius and "
    "latissimus fascia, over the {s} scapula and the thoracic spine.",
    ["{s} upper back subcutaneous fat"],
)

add(
    "coarse",
    "Mediastinum",
    "midline",
    "space",
    "The coarse reporting group for the mediastinum, the central chest compartment between "
    "the lungs: the IASLC nodal stations, hila, cardiophrenic nodes, esophagus, trachea and "
    "thoracic aorta.",
    ["mediastinal compartment"],
    ["mediastinal lymph nodes"],
)
STATIONS = [
    (
        "1R",
        "right",
        "IASLC station 1R: right low cervical, supraclavicular and sternal notch "
        "nodes, from the lower margin of the cricoid down to the clavicles and manubrium, right "
        "of the tracheal midline.",
        [
            "right low cervical and supraclavicular",
            "station 1R",
            "right low cervical, supraclavicular and sternal notch lymph nodes",
        ],
        [],
    ),
    (
        "1L",
        "left",
        "IASLC station 1L: left low cervical, supraclavicular and sternal notch "
        "nodes, from the lower margin of the cricoid down to the clavicles and manubrium, left "
        "of the tracheal midline.",
        [
            "left low cervical and supraclavicular",
            "station 1L",
            "left low cervical, supraclavicular and sternal notch lymph nodes",
        ],
        [],
    ),
    (
        "2R",
        "right",
        "IASLC station 2R: right upper paratracheal nodes, from the top of the "
        "manubrium and lung apex down to where the left brachiocephalic vein crosses the trachea, "
        "reaching the trachea's left border.",
        ["right upper paratracheal", "station 2R", "right upper paratracheal lymph nodes"],
        [],
    ),
    (
        "2L",
        "left",
        "IASLC station 2L: left upper paratracheal nodes lying left of the left "
        "tracheal border, from the top of the manubrium and lung apex down to the upper border "
        "of the aortic arch.",
        ["left upper paratracheal", "station 2L", "left upper paratracheal lymph nodes"],
        [],
    ),
    (
        "3A",
        "unsided",
        "IASLC station 3A: prevascular nodes of the anterior mediastinum, behind "
        "the sternum and in front of the superior vena cava or left carotid artery, from the "
        "chest apex down to the carina.",
        ["prevascular", "station 3A", "prevascular lymph nodes"],
        ["anterior mediastinal lymph nodes", "retrosternal lymph nodes"],
    ),
    (
        "3P",
        "midline",
        "IASLC station 3P: retrotracheal nodes lying behind the trachea, between "
        "it and the esophagus and spine, from the chest apex down to the carina.",
        ["retrotracheal", "station 3P", "retrotracheal lymph nodes"],
        [],
    ),
    (
        "4R",
        "right",
        "IASLC station 4R: right lower paratracheal and pretracheal nodes, from "
        "where the left brachiocephalic vein crosses the trachea down to the lower border of the "
        "azygos vein.",
        ["right lower paratracheal", "station 4R", "right lower paratracheal lymph nodes"],
        ["pretracheal lymph nodes", "azygos lymph node"],
    ),
    (
        "4L",
        "left",
        "IASLC station 4L: left lower paratracheal nodes left of the trachea and "
        "medial to the ligamentum arteriosum, from the upper aortic arch border down to the upper "
        "rim of the left main pulmonary artery.",
        ["left lower paratracheal", "station 4L", "left lower paratracheal lymph nodes"],
        [],
    ),
    (
        "5",
        "left",
        "IASLC station 5: subaortic nodes in the aortopulmonary window, lateral to "
        "the ligamentum arteriosum, between the lower border of the aortic arch and the upper rim "
        "of the left main pulmonary artery.",
        ["subaortic", "station 5", "subaortic lymph nodes", "aortopulmonary window lymph nodes"],
        ["aortopulmonary window", "AP window"],
    ),
    (
        "6",
        "left",
        "IASLC station 6: para-aortic nodes lying anterior and lateral to the "
        "ascending aorta and aortic arch, between tangents to the upper and lower borders of the "
        "arch.",
        ["mediastinal para-aortic", "station 6", "mediastinal para-aortic lymph nodes"],
        ["ascending aorta lymph nodes", "phrenic lymph nodes"],
    ),
    (
        "7",
        "midline",
        "IASLC station 7: subcarinal nodes below the tracheal carina between the "
        "main bronchi, down to the left lower lobe bronchus on the left and the lower bronchus "
        "intermedius on the right.",
        ["subcarinal", "station 7", "subcarinal lymph nodes"],
        ["carinal lymph nodes"],
    ),
    (
        "8",
        "unsided",
        "IASLC station 8: paraesophageal nodes lying against the esophageal wall on "
        "either side of the midline, below the subcarinal station and down to the diaphragm.",
        ["paraesophageal", "station 8", "paraesophageal lymph nodes"],
        ["lower mediastinal lymph nodes"],
    ),
    (
        "9",
        "unsided",
        "IASLC station 9: pulmonary ligament nodes within the right or left "
        "inferior pulmonary ligament, from the inferior pulmonary vein down to the diaphragm.",
        ["pulmonary ligament", "station 9", "pulmonary ligament lymph nodes"],
        ["inferior pulmonary ligament"],
    ),
]
for code, lat, d, ex, rel in STATIONS:
    add("fine", f"Mediastinum {code}", lat, "lymph_node_station", d, ex, rel, pref=0)
add(
    "fine",
    "Pericardiophrenic region",
    "unsided",
    "lymph_node_station",
    "The fat of the cardiophrenic angles, where the pericardium meets the diaphragm on each "
    "side, holding the pericardiophrenic (paracardiac) lymph nodes and the pericardial fat pads.",
    ["cardiophrenic angle", "cardiophrenic lymph nodes", "paracardiac lymph nodes"],
    ["pericardial fat pad", "epicardial fat pad"],
    pref=0,
)
sided(
    "fine",
    "{S} pulmonary hilum",
    "lymph_node_station",
    {
        "left": "The left lung root on the mediastinal surface of the left lung, where the left "
        "main bronchus, pulmonary artery and veins enter; used chiefly for the left hilar "
        "(station 10L) nodes.",
        "right": "The right lung root on the mediastinal surface of the right lung, around the "
        "right main bronchus, bronchus intermedius and pulmonary vessels; used chiefly for "
        "the right hilar (station 10R) nodes.",
    },
    [
        "{s} hilum",
        "{s} hilar lymph nodes",
        {"left": "station 10L", "right": "station 10R"},
        "{s} hilar region",
    ],
    [{"left": "station 11L", "right": "station 11R"}, "{s} interlobar lymph nodes"],
)
add(
    "fine",
    "Esophagus",
    "midline",
    "hollow_organ",
    "The muscular food passage from the pharynx at C6 through the posterior mediastinum, "
    "behind the trachea and left atrium, to the gastric cardia below the diaphragmatic hiatus.",
    ["oesophagus", "gullet"],
    ["thoracic esophagus", "distal esophagus", "esophageal wall"],
    xref="UBERON:0001043",
)
add(
    "fine",
    "Trachea",
    "midline",
    "airway",
    "The cartilage-ringed windpipe from the cricoid cartilage at C6 down to the carina at "
    "about T4 to T5, where it divides into the two main bronchi.",
    ["windpipe"],
    ["tracheal carina", "main bronchi"],
    xref="UBERON:0003126",
)
add(
    "fine",
    "Thoracic aorta",
    "unsided",
    "vessel",
    "The aorta within the chest: ascending aorta, aortic arch and descending thoracic aorta, "
    "from the aortic valve to the aortic hiatus of the diaphragm at about T12.",
    ["intrathoracic aorta"],
    ["aortic arch", "ascending aorta", "descending thoracic aorta", "aortic wall"],
)
add(
    "coarse",
    "Heart",
    "unsided",
    "mixed",
    "The coarse reporting group for the heart and its covering, grouping the heart itself "
    "with the pericardium in the middle mediastinum.",
    related=["cardiac region"],
)
add(
    "fine",
    "Heart",
    "unsided",
    "hollow_organ",
    "The heart itself (atria, ventricles, myocardium and valves), lying obliquely in the middle "
    "mediastinum within the pericardial sac with about two-thirds of its mass left of midline.",
    related=["myocardium", "left ventricle", "cardiac chambers"],
    xref="UBERON:0000948",
)
add(
    "fine",
    "Pericardium",
    "unsided",
    "serous_membrane",
    "The fibroserous sac around the heart and the roots of the great vessels, enclosing the "
    "pericardial cavity and fused below with the central tendon of the diaphragm.",
    ["pericardial sac"],
    ["pericardial space", "pericardial cavity", "epicardium"],
)

sided(
    "coarse",
    "{S} lung",
    "lung",
    {
        "left": "The coarse reporting group for the left lung, grouping the eight reported "
        "bronchopulmonary segments of its upper lobe with lingula and of its lower lobe.",
        "right": "The coarse reporting group for the right lung, grouping the ten "
        "bronchopulmonary segments of its upper, middle and lower lobes.",
    },
    related=["{s} lung parenchyma", "{s} pulmonary parenchyma"],
)
LUNG = [
    (
        "Left upper lobe apex posterior segment",
        "left",
        "The apicoposterior segment (S1+2) of the left upper lobe, occupying the left lung apex "
        "and the posterior upper part of the lobe above the anterior segment.",
        [
            "apicoposterior segment of the left upper lobe",
            "LUL apicoposterior segment",
            "left S1+2",
        ],
        ["left lung apex"],
    ),
    (
        "Left upper lobe anterior segment",
        "left",
        "The anterior segment (S3) of the left upper lobe, lying in front of the apicoposterior "
        "segment and above the lingula, against the anterior chest wall.",
        ["anterior segment of the left upper lobe", "LUL anterior segment", "left S3"],
        [],
    ),
    (
        "Left upper lobe upper tongue segment",
        "left",
        "The superior lingular segment (S4) of the left upper lobe, the upper half of the lingula, "
        "lying anterolaterally below the anterior segment and beside the heart.",
        ["superior lingular segment", "superior segment of the lingula", "left S4"],
        ["lingula"],
    ),
    (
        "Left upper lobe lower tongue segment",
        "left",
        "The inferior lingular segment (S5) of the left upper lobe, the lower tip of the lingula, "
        "lying against the left heart border and the front of the left hemidiaphragm.",
        ["inferior lingular segment", "inferior segment of the lingula", "left S5"],
        [],
    ),
    (
        "Left lower lobe dorsal segment",
        "left",
        "The superior segment (S6) of the left lower lobe, its uppermost posterior part just "
        "behind the oblique fissure, against the posterior chest wall beside the spine.",
        ["superior segment of the left lower lobe", "LLL superior segment", "left S6"],
        ["apical segment of the left lower lobe"],
    ),
    (
        "Left lower lobe anterior basal segment",
        "left",
        "The anteromedial basal segment (S7+8) of the left lower lobe, the anterior and medial "
        "part of the lobe base resting on the left hemidiaphragm behind the oblique fissure.",
        [
            "anteromedial basal segment of the left lower lobe",
            "LLL anteromedial basal segment",
            "left S7+8",
            "anterior basal segment of the left lower lobe",
        ],
        [],
    ),
    (
        "Left lower lobe outer basal segment",
        "left",
        "The lateral basal segment (S9) of the left lower lobe, the lateral part of the lobe base "
        "lying against the lower lateral chest wall and the costophrenic recess.",
        ["lateral basal segment of the left lower lobe", "LLL lateral basal segment", "left S9"],
        [],
    ),
    (
        "Left lower lobe posterior basal segment",
        "left",
        "The posterior basal segment (S10) of the left lower lobe, the largest basal segment, "
        "filling the posterior lung base beside the spine and the posterior costophrenic recess.",
        [
            "posterior basal segment of the left lower lobe",
            "LLL posterior basal segment",
            "left S10",
        ],
        [],
    ),
    (
        "Right upper lobe apex segment",
        "right",
        "The apical segment (S1) of the right upper lobe, forming the dome of the right lung that "
        "rises above the first rib into the thoracic inlet.",
        ["apical segment of the right upper lobe", "RUL apical segment", "right S1"],
        ["right lung apex"],
    ),
    (
        "Right upper lobe posterior segment",
        "right",
        "The posterior segment (S2) of the right upper lobe, lying behind the apical segment "
        "against the posterior chest wall, above the superior segment of the lower lobe.",
        ["posterior segment of the right upper lobe", "RUL posterior segment", "right S2"],
        [],
    ),
    (
        "Right upper lobe anterior segment",
        "right",
        "The anterior segment (S3) of the right upper lobe, lying in front above the horizontal "
        "fissure and the middle lobe, against the anterior chest wall.",
        ["anterior segment of the right upper lobe", "RUL anterior segment", "right S3"],
        [],
    ),
    (
        "Right middle lobe lateral segment",
        "right",
        "The lateral segment (S4) of the right middle lobe, its outer part between the horizontal "
        "and oblique fissures against the anterolateral chest wall.",
        ["lateral segment of the right middle lobe", "RML lateral segment", "right S4"],
        [],
    ),
    (
        "Right middle lobe medial segment",
        "right",
        "The medial segment (S5) of the right middle lobe, its inner part lying against the right "
        "heart border and the anterior right hemidiaphragm.",
        ["medial segment of the right middle lobe", "RML medial segment", "right S5"],
        [],
    ),
    (
        "Right lower lobe dorsal segment",
        "right",
        "The superior segment (S6) of the right lower lobe, its uppermost posterior part, lying "
        "behind the oblique fissure below the posterior segment of the upper lobe.",
        ["superior segment of the right lower lobe", "RLL superior segment", "right S6"],
        ["apical segment of the right lower lobe"],
    ),
    (
        "Right lower lobe inner basal segment",
        "right",
        "The medial basal segment (S7) of the right lower lobe, the small inner part of the lobe "
        "base lying against the inferior vena cava and the right heart border.",
        ["medial basal segment of the right lower lobe", "RLL medial basal segment", "right S7"],
        ["cardiac segment of the right lower lobe"],
    ),
    (
        "Right lower lobe anterior basal segment",
        "right",
        "The anterior basal segment (S8) of the right lower lobe, the anterolateral part of the "
        "lobe base resting on the right hemidiaphragm behind the oblique fissure.",
        [
            "anterior basal segment of the right lower lobe",
            "RLL anterior basal segment",
            "right S8",
        ],
        [],
    ),
    (
        "Right lower lobe outer basal segment",
        "right",
        "The lateral basal segment (S9) of the right lower lobe, the outer part of the lobe base "
        "against the lower lateral chest wall and the right costophrenic recess.",
        ["lateral basal segment of the right lower lobe", "RLL lateral basal segment", "right S9"],
        [],
    ),
    (
        "Right lower lobe posterior basal segment",
        "right",
        "The posterior basal segment (S10) of the right lower lobe, the posterior part of the lobe "
        "base beside the spine, filling the posterior costophrenic recess.",
        [
            "posterior basal segment of the right lower lobe",
            "RLL posterior basal segment",
            "right S10",
        ],
        [],
    ),
]
for label, lat, d, ex, rel in LUNG:
    add("fine", label, lat, "lung", d, ex, rel, pref=0)

# ---------------------------------------------------------------------------
# Abdomen
# ---------------------------------------------------------------------------
add(
    "coarse",
    "Abdominal cavity",
    "unsided",
    "space",
    "The coarse reporting group for the peritoneal cavity and its linings, grouping the "
    "abdominal cavity proper, the gastrohepatic and gastrosplenic spaces, the peritoneum and "
    "the mesentery.",
)
add(
    "fine",
    "Abdominal cavity",
    "unsided",
    "space",
    "The peritoneal cavity of the abdomen not otherwise specified: the potential space "
    "between parietal and visceral peritoneum, including free fluid or deposits between "
    "bowel loops.",
    ["peritoneal cavity", "intraperitoneal space"],
    ["greater sac", "lesser sac"],
)
add(
    "fine",
    "Hepatic-gastric space",
    "unsided",
    "space",
    "The region between the lesser curvature of the stomach and the liver, occupied by the "
    "gastrohepatic ligament of the lesser omentum with the left gastric vessels and nodes.",
    ["gastrohepatic ligament region", "gastrohepatic space"],
    ["lesser omentum", "gastrohepatic ligament", "left gastric lymph nodes"],
    pref=0,
)
add(
    "fine",
    "Splenic-gastric space",
    "unsided",
    "space",
    "The region between the greater curvature of the gastric fundus and the splenic hilum, "
    "occupied by the gastrosplenic ligament carrying the short gastric vessels.",
    ["gastrosplenic space", "gastrosplenic ligament region"],
    ["gastrosplenic ligament", "splenogastric ligament"],
    pref=0,
)
add(
    "fine",
    "Peritoneum",
    "unsided",
    "serous_membrane",
    "The serous membrane lining the abdominal wall (parietal) and covering the intraperitoneal "
    "organs (visceral), with the omentum; used for peritoneal thickening, nodules and "
    "carcinomatosis.",
    ["peritoneal lining", "peritoneal membrane"],
    ["greater omentum", "omentum", "peritoneal surface", "peritoneal carcinomatosis"],
)
add(
    "fine",
    "Mesentery",
    "unsided",
    "space",
    "The fan-shaped peritoneal fold attaching the small bowel to the posterior abdominal wall, "
    "carrying the mesenteric fat, superior mesenteric vessels and mesenteric lymph nodes.",
    ["small bowel mesentery", "mesentery of the small intestine"],
    ["mesenteric lymph nodes", "mesenteric fat", "mesenteric root", "transverse mesocolon"],
)
add(
    "coarse",
    "Retroperitoneum",
    "unsided",
    "space",
    "The coarse reporting group for the retroperitoneal compartment, grouping the "
    "retroperitoneal space, the diaphragm and its crura, the adrenal glands, the abdominal "
    "ureters and the abdominal aorta.",
)
add(
    "fine",
    "Retroperitoneum",
    "unsided",
    "space",
    "The retroperitoneal space behind the parietal peritoneum of the posterior abdominal wall, "
    "used especially for para-aortic, paracaval and aortocaval lymph nodes and retroperitoneal "
    "soft tissue.",
    ["retroperitoneal space", "retroperitoneal compartment"],
    [
        "retroperitoneal lymph nodes",
        "para-aortic lymph nodes",
        "paracaval lymph nodes",
        "aortocaval lymph nodes",
    ],
)
sided(
    "fine",
    "{S} crus of diaphragm",
    "muscle",
    {
        "left": "The left crus of the diaphragm, the smaller musculotendinous pillar arising from "
        "the L1 and L2 vertebral bodies and forming the left margin of the aortic hiatus.",
        "right": "The right crus of the diaphragm, the larger pillar arising from the L1 to L3 "
        "vertebral bodies, whose fibres encircle the esophageal hiatus and bound the "
        "aortic hiatus on the right.",
    },
    ["{s} diaphragmatic crus"],
    ["{s} retrocrural region"],
    pref=0,
)
sided(
    "fine",
    "{S} diaphragm",
    "muscle",
    {
        "left": "The left hemidiaphragm, the dome-shaped musculotendinous sheet separating the left "
        "chest from the abdomen, arching over the spleen, the gastric fundus and the left "
        "liver lobe.",
        "right": "The right hemidiaphragm, the dome-shaped musculotendinous sheet separating the "
        "right chest from the abdomen, standing slightly higher than the left over the "
        "dome of the liver.",
    },
    ["{s} hemidiaphragm", "{s} diaphragmatic dome"],
    ["{s} subphrenic region"],
    pref=0,
)
sided(
    "fine",
    "{S} adrenal gland",
    "gland",
    {
        "left": "The left adrenal (suprarenal) gland, an inverted-Y or lambda-shaped gland "
        "anteromedial to the upper pole of the left kidney, lateral to the left crus and "
        "behind the pancreas.",
        "right": "The right adrenal (suprarenal) gland, a thin linear or inverted-V gland above "
        "the upper pole of the right kidney, directly behind the inferior vena cava and "
        "medial to the liver.",
    },
    ["{s} suprarenal gland", "{s} adrenal"],
    ["{s} adrenal limb"],
)
add(
    "fine",
    "Ureter",
    "unsided",
    "hollow_organ",
    "The abdominal ureters, the muscular tubes carrying urine from each renal pelvis down over "
    "the psoas muscles to the pelvic brim, where the pelvic ureter begins.",
    ["abdominal ureter", "abdominal segment of the ureter"],
    ["proximal ureter", "ureteropelvic junction"],
    pref=0,
)
add(
    "fine",
    "Abdominal aorta",
    "midline",
    "vessel",
    "The aorta below the diaphragm, from the aortic hiatus at T12 down the front of the lumbar "
    "spine, just left of midline, to its bifurcation into the common iliac arteries at about L4.",
    ["infradiaphragmatic aorta"],
    ["infrarenal aorta", "suprarenal aorta", "abdominal aortic wall"],
)
add(
    "coarse",
    "Spleen",
    "unsided",
    "solid_organ",
    "The coarse reporting group for the spleen, grouping the splenic parenchyma, the splenic "
    "hilum and the perisplenic tissue of the left upper quadrant.",
)
add(
    "fine",
    "Spleen",
    "unsided",
    "solid_organ",
    "The spleen itself, the lymphoid organ in the left upper quadrant beneath the ninth to "
    "eleventh ribs, between the gastric fundus, the left hemidiaphragm and the left kidney.",
    ["splenic parenchyma"],
    ["accessory spleen", "splenule"],
    xref="UBERON:0002106",
)
add(
    "fine",
    "Splenic hilum",
    "unsided",
    "space",
    "The concave medial notch of the spleen where the splenic artery and vein branches enter "
    "and leave, close to the pancreatic tail, holding the splenic hilar lymph nodes.",
    ["hilum of the spleen", "splenic hilar region"],
    ["splenic hilar lymph nodes"],
)
add(
    "fine",
    "Around the spleen",
    "unsided",
    "space",
    "The perisplenic soft tissue and peritoneal space around the spleen, including the left "
    "subphrenic space and the splenorenal and phrenicocolic ligament regions.",
    ["perisplenic region", "perisplenic space"],
    ["left subphrenic space"],
    pref=0,
)
add(
    "coarse",
    "Stomach",
    "unsided",
    "hollow_organ",
    "The coarse reporting group for the stomach, grouping the stomach as an organ, its cardia "
    "and the perigastric soft tissue.",
)
add(
    "fine",
    "Stomach",
    "unsided",
    "hollow_organ",
    "The stomach as an organ (fundus, body, antrum and pylorus) in the left upper abdomen; "
    "used for gastric lesions not confined to the cardia, which is recorded separately.",
    related=["gastric wall", "gastric fundus", "gastric body", "gastric antrum", "pylorus"],
    xref="UBERON:0000945",
)
add(
    "fine",
    "Cardia of stomach",
    "unsided",
    "hollow_organ",
    "The gastric cardia, the part of the stomach immediately around the gastroesophageal "
    "junction just below the diaphragmatic hiatus, where the esophagus opens into the stomach.",
    ["gastric cardia", "cardia", "cardiac part of the stomach"],
    ["gastroesophageal junction", "esophagogastric junction"],
    pref=0,
)
add(
    "fine",
    "Near the stomach",
    "unsided",
    "space",
    "The perigastric soft tissue along the lesser and greater curvatures of the stomach, "
    "including the perigastric lymph nodes in the adjacent omental attachments.",
    ["perigastric region", "perigastric tissue"],
    ["perigastric lymph nodes"],
    pref=0,
)

add(
    "coarse",
    "Liver",
    "unsided",
    "solid_organ",
    "The coarse reporting location for the whole liver, grouping the eight Couinaud segments "
    "with the porta hepatis and the perihepatic space.",
    ["hepatic parenchyma"],
    ["right hepatic lobe", "left hepatic lobe"],
    xref="UBERON:0002107",
)
LIVER = [
    (
        "S1",
        "I",
        "1",
        "Couinaud segment I, the caudate lobe, lying posteriorly between the inferior vena cava "
        "and the fissure for the ligamentum venosum and draining directly into the cava.",
        ["caudate lobe"],
        ["caudate process", "paracaval portion of the caudate lobe"],
    ),
    (
        "S2",
        "II",
        "2",
        "Couinaud segment II, the posterior (superior) part of the left lateral section, left of "
        "the falciform ligament and above the plane of the left portal vein.",
        ["left lateral superior segment of the liver"],
        [],
    ),
    (
        "S3",
        "III",
        "3",
        "Couinaud segment III, the anterior (inferior) part of the left lateral section, left of "
        "the falciform ligament and below the plane of the left portal vein.",
        ["left lateral inferior segment of the liver"],
        ["left lateral section of the liver"],
    ),
    (
        "S4",
        "IV",
        "4",
        "Couinaud segment IV, the left medial section between the middle hepatic vein and the "
        "falciform ligament, divided into IVa above and IVb (quadrate lobe) below the portal plane.",
        ["left medial segment of the liver"],
        ["quadrate lobe", "segment IVa", "segment IVb"],
    ),
    (
        "S5",
        "V",
        "5",
        "Couinaud segment V, the inferior part of the right anterior section, between the middle "
        "and right hepatic veins below the portal plane, beside the gallbladder fossa.",
        ["anteroinferior segment of the right hepatic lobe"],
        ["gallbladder bed"],
    ),
    (
        "S6",
        "VI",
        "6",
        "Couinaud segment VI, the inferior part of the right posterior section, lateral to the "
        "right hepatic vein and below the portal plane, lying over the right kidney.",
        ["posteroinferior segment of the right hepatic lobe"],
        ["inferior tip of the right lobe"],
    ),
    (
        "S7",
        "VII",
        "7",
        "Couinaud segment VII, the superior part of the right posterior section, lateral to the "
        "right hepatic vein and above the portal plane, beneath the posterior right hemidiaphragm.",
        ["posterosuperior segment of the right hepatic lobe"],
        ["right liver lobe posterior"],
    ),
    (
        "S8",
        "VIII",
        "8",
        "Couinaud segment VIII, the superior part of the right anterior section, between the "
        "middle and right hepatic veins above the portal plane, under the diaphragmatic dome.",
        ["anterosuperior segment of the right hepatic lobe"],
        ["hepatic dome"],
    ),
]
for code, roman, num, d, ex_extra, rel in LIVER:
    ex = [f"segment {roman} of the liver", f"Couinaud segment {num}", f"hepatic segment {roman}"]
    if code == "S7":
        ex = [
            f"segment {roman} of the liver",
            ex_extra[0],
            f"Couinaud segment {num}",
            f"hepatic segment {roman}",
        ]
    elif code == "S1":
        ex = ex_extra + ex
    else:
        ex = ex + ex_extra
    add("fine", f"Liver {code}", "unsided", "solid_organ", d, ex, rel, pref=0)
add(
    "fine",
    "Porta hepatis",
    "unsided",
    "space",
    "The transverse hilar fissure on the underside of the liver, between the caudate and "
    "quadrate lobes, where the portal vein, hepatic artery and bile ducts enter, with the "
    "hepatic hilar nodes.",
    ["hepatic hilum", "liver hilum", "hilum of the liver"],
    ["portal lymph nodes", "hepatoduodenal ligament", "portocaval lymph nodes"],
)
add(
    "fine",
    "Around the liver",
    "unsided",
    "space",
    "The perihepatic space immediately around the liver capsule, including the subphrenic and "
    "subhepatic spaces and the hepatorenal pouch, used for capsular or perihepatic deposits.",
    ["perihepatic space", "perihepatic region"],
    ["right subphrenic space", "Morison pouch", "hepatorenal recess"],
    pref=0,
)
add(
    "coarse",
    "Gallbladder",
    "unsided",
    "hollow_organ",
    "The coarse reporting location for the gallbladder, grouping its wall, lumen and "
    "immediate fossa on the liver as one abdominal location.",
)
add(
    "fine",
    "Gallbladder",
    "unsided",
    "hollow_organ",
    "The pear-shaped bile reservoir in the gallbladder fossa on the underside of the liver "
    "between segments IVb and V, with fundus, body and neck draining through the cystic duct.",
    ["gall bladder"],
    ["gallbladder fossa", "cystic duct", "gallbladder wall"],
    xref="UBERON:0002110",
)
add(
    "coarse",
    "Pancreas",
    "unsided",
    "solid_organ",
    "The coarse reporting group for the pancreas, grouping the gland itself with its "
    "immediately surrounding peripancreatic tissue.",
)
add(
    "fine",
    "Pancreas",
    "unsided",
    "solid_organ",
    "The pancreas itself, the retroperitoneal gland lying across L1 to L2 from its head in the "
    "duodenal loop through neck and body to its tail at the splenic hilum.",
    ["pancreatic parenchyma", "pancreatic gland"],
    ["pancreatic head", "pancreatic body", "pancreatic tail", "uncinate process"],
    xref="UBERON:0001264",
)
add(
    "fine",
    "Around the pancreas",
    "unsided",
    "space",
    "The peripancreatic fat and soft tissue around the pancreas, including the peripancreatic "
    "lymph nodes along the splenic vessels and in the pancreaticoduodenal groove.",
    ["peripancreatic region", "peripancreatic tissue"],
    ["peripancreatic lymph nodes", "pancreaticoduodenal lymph nodes"],
    pref=0,
)
sided(
    "coarse",
    "{S} kidney",
    "solid_organ",
    "The coarse reporting group for the {s} kidney, grouping the {s} kidney itself with its "
    "renal fascia and perirenal space.",
)
sided(
    "fine",
    "{S} kidney",
    "solid_organ",
    {
        "left": "The left kidney itself (cortex, medulla, renal sinus and pelvis) in the left "
        "retroperitoneum at about T12 to L3, behind the pancreatic tail, spleen and "
        "descending colon.",
        "right": "The right kidney itself (cortex, medulla, renal sinus and pelvis) in the right "
        "retroperitoneum, usually slightly lower than the left, behind the liver, "
        "duodenum and hepatic flexure.",
    },
    related=["{s} renal parenchyma", "{s} renal pelvis", "{s} renal sinus"],
)
sided(
    "fine",
    "Renal fascia of {s} kidney",
    "space",
    "The {s} renal (Gerota) fascia and the perirenal fat it encloses around the {s} kidney "
    "and adrenal gland, used for perirenal stranding or deposits outside the renal capsule.",
    ["{s} Gerota fascia", "{s} perirenal space", "{s} perinephric space"],
    ["{s} perirenal fat", "{s} Zuckerkandl fascia"],
    pref=0,
)
add(
    "coarse",
    "Large intestine",
    "unsided",
    "hollow_organ",
    "The coarse reporting group for the whole large bowel, grouping the colon with the cecum, "
    "appendix, rectum and anal canal.",
)
add(
    "fine",
    "Large intestine",
    "unsided",
    "hollow_organ",
    "The large bowel as an organ, from the ileocecal valve to the anus; used chiefly for the "
    "ascending, transverse, descending and sigmoid colon when no separately listed part applies.",
    ["large bowel"],
    [
        "colon",
        "ascending colon",
        "transverse colon",
        "descending colon",
        "sigmoid colon",
        "hepatic flexure",
        "splenic flexure",
    ],
    xref="UBERON:0000059",
)
add(
    "fine",
    "Cecum",
    "unsided",
    "hollow_organ",
    "The blind-ended first part of the large intestine in the right iliac fossa, below the "
    "ileocecal valve, from which the appendix arises.",
    ["caecum"],
    ["ileocecal valve", "ileocecal junction"],
    xref="UBERON:0001153",
)
add(
    "fine",
    "Appendix",
    "unsided",
    "hollow_organ",
    "The vermiform appendix, a narrow blind tube arising from the posteromedial cecum below "
    "the ileocecal valve, in a variable, often retrocecal or pelvic, position.",
    ["vermiform appendix"],
    ["appendiceal tip", "periappendiceal region"],
    xref="UBERON:0001154",
)
add(
    "fine",
    "Rectum",
    "midline",
    "hollow_organ",
    "The terminal straight part of the large intestine, about 12 to 15 cm long, following the "
    "sacral curve from the rectosigmoid junction at about S3 to the anorectal junction.",
    related=["rectal wall", "rectosigmoid junction", "mesorectum"],
    xref="UBERON:0001052",
)
add(
    "fine",
    "Anal canal",
    "midline",
    "hollow_organ",
    "The last 3 to 4 cm of the digestive tract, from the anorectal junction at the pelvic "
    "floor to the anal verge, surrounded by the internal and external anal sphincters.",
    related=["anus", "anal sphincter", "anal verge"],
)
add(
    "coarse",
    "Small intestine",
    "unsided",
    "hollow_organ",
    "The coarse reporting location for the small bowel, grouping the duodenum, jejunum and "
    "ileum as one abdominal location.",
)
add(
    "fine",
    "Small intestine",
    "unsided",
    "hollow_organ",
    "The small bowel wall and lumen from the pylorus to the ileocecal valve (duodenum, jejunum "
    "and ileum), excluding the mesentery, which is recorded separately.",
    ["small bowel"],
    ["duodenum", "jejunum", "ileum", "terminal ileum"],
    xref="UBERON:0002108",
)
sided(
    "coarse",
    "{S} abdomen",
    "mixed",
    "The coarse reporting group for the {s} anterior and lateral abdominal wall, grouping its "
    "muscles and fasciae with the overlying subcutaneous fat.",
    related=["{s} flank"],
)
sided(
    "fine",
    "{S} abdominal subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} abdomen between the skin and the external oblique and "
    "rectus sheath, a common site of injection granulomas.",
    ["{s} abdominal subcutaneous fat", "{s} abdominal wall subcutaneous tissue"],
)
sided(
    "fine",
    "{S} abdominal wall",
    "mixed",
    "The musculofascial {s} abdominal wall (rectus abdominis, external and internal obliques, "
    "transversus abdominis and their fasciae) from the costal margin to the iliac crest and "
    "inguinal ligament.",
    ["{s} anterolateral abdominal wall"],
    ["{s} rectus abdominis muscle", "{s} oblique abdominal muscles"],
)
add(
    "coarse",
    "Navel",
    "midline",
    "skin_surface",
    "The coarse reporting location for the umbilical region, grouping the navel with the "
    "periumbilical soft tissue of the anterior abdominal wall.",
    related=["periumbilical region"],
)
add(
    "fine",
    "Navel",
    "midline",
    "skin_surface",
    "The umbilicus, the depressed scar in the midline of the anterior abdominal wall at about "
    "the L3 to L4 level where the umbilical cord was attached.",
    ["umbilicus", "belly button"],
    ["Sister Mary Joseph nodule"],
)
sided(
    "coarse",
    "{S} lower back",
    "mixed",
    "The coarse reporting group for the soft tissues of the {s} lumbar back, grouping the "
    "posterior back muscles, the deep lumbar muscles and the subcutaneous fat.",
)
sided(
    "fine",
    "{S} lower back muscle",
    "muscle",
    "The posterior muscles of the {s} lower back over the lumbar spine, chiefly the lumbar "
    "erector spinae and multifidus and the lower fibres of latissimus dorsi.",
    ["{s} lower back musculature"],
    ["{s} lumbar erector spinae", "{s} multifidus muscle"],
    pref=0,
)
sided(
    "fine",
    "{S} lower back subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} lower back between the skin and the thoracolumbar "
    "fascia, from the lower ribs down to the iliac crest.",
    ["{s} lower back subcutaneous fat", "{s} lumbar subcutaneous fat"],
)
sided(
    "fine",
    "{S} lumbar muscle",
    "muscle",
    "The deep {s} lumbar muscles of the posterior abdominal wall beside the lumbar vertebral "
    "bodies and transverse processes, chiefly psoas major and quadratus lumborum.",
    related=["{s} psoas muscle", "{s} quadratus lumborum muscle"],
)

# ---------------------------------------------------------------------------
# Pelvis
# ---------------------------------------------------------------------------
add(
    "coarse",
    "Pelvic cavity",
    "unsided",
    "space",
    "The coarse reporting group for the pelvic cavity apart from its named organs: the pelvic "
    "space, iliac vessels and their nodes, pelvic peritoneum and mesentery, and the pelvic "
    "ureters.",
)
add(
    "fine",
    "Pelvic cavity",
    "unsided",
    "space",
    "The space within the true pelvis, below the pelvic brim and above the pelvic floor, not "
    "otherwise specified, including pelvic fat, free fluid and deposits in the pelvic pouches.",
    ["true pelvis", "lesser pelvis"],
    ["pouch of Douglas", "rectouterine pouch", "rectovesical pouch", "presacral space"],
)
sided(
    "fine",
    "{S} iliac vessel",
    "vessel",
    "The {s} iliac arteries and veins (common, external and internal), running from the "
    "aortic bifurcation and caval confluence along the {s} pelvic side wall to the inguinal "
    "ligament.",
    ["{s} iliac vessels"],
    [
        "{s} common iliac artery",
        "{s} external iliac artery",
        "{s} internal iliac artery",
        "{s} iliac veins",
    ],
)
sided(
    "fine",
    "Near {s} iliac vessel",
    "lymph_node_station",
    "The soft tissue along the {s} iliac vessels on the {s} pelvic side wall, chiefly the "
    "{s} common, external and internal iliac and obturator lymph nodes.",
    ["{s} iliac lymph nodes", "{s} iliac nodal chain", "{s} pelvic side wall nodes"],
    [
        "{s} external iliac lymph nodes",
        "{s} internal iliac lymph nodes",
        "{s} common iliac lymph nodes",
        "{s} obturator lymph nodes",
    ],
    pref=0,
)
add(
    "fine",
    "Pelvic peritoneum",
    "unsided",
    "serous_membrane",
    "The peritoneum draped over the pelvic organs and lining the pelvic cavity, dipping into "
    "the rectovesical or rectouterine pouch; a common site of dependent peritoneal deposits.",
    ["pelvic peritoneal lining"],
    ["pelvic peritoneal reflection"],
)
add(
    "fine",
    "Pelvic mesentery",
    "unsided",
    "space",
    "The mesenteric folds lying within the pelvis, mainly the sigmoid mesocolon and the "
    "mesentery of pelvic small bowel loops, with their fat, vessels and lymph nodes.",
    related=["sigmoid mesocolon", "mesosigmoid"],
)
add(
    "fine",
    "Ureter in pelvic cavity",
    "unsided",
    "hollow_organ",
    "The pelvic ureters, from where each crosses the iliac vessels at the pelvic brim, down "
    "the pelvic side wall to the ureterovesical junction at the bladder base.",
    ["pelvic ureter"],
    ["distal ureter", "ureterovesical junction"],
    pref=0,
)
add(
    "coarse",
    "Bladder",
    "midline",
    "hollow_organ",
    "The coarse reporting location for the urinary bladder, grouping the bladder wall and "
    "the lumen that holds excreted tracer as one pelvic location.",
)
add(
    "fine",
    "Bladder",
    "midline",
    "hollow_organ",
    "The urinary bladder, the muscular urine reservoir behind the pubic symphysis, whose lumen "
    "fills with excreted FDG that can mask lesions in the adjacent pelvic structures.",
    ["urinary bladder"],
    ["bladder wall", "bladder dome", "bladder base"],
    xref="UBERON:0001255",
)
add(
    "coarse",
    "Reproductive system",
    "unsided",
    "mixed",
    "The coarse reporting group for the pelvic and external reproductive organs of either sex: "
    "prostate, scrotum and penis, or uterus and both uterine adnexa.",
    related=["genital organs", "genital tract"],
)
add(
    "fine",
    "Prostate gland",
    "midline",
    "gland",
    "The walnut-sized male gland below the bladder neck and in front of the rectum, "
    "surrounding the proximal urethra, with peripheral, transition and central zones.",
    ["prostate"],
    ["prostatic bed", "prostate fossa"],
    xref="UBERON:0002367",
)
add(
    "fine",
    "Scrotum",
    "midline",
    "mixed",
    "The scrotal sac below the penis with its skin and dartos layer and its contents, the "
    "testes, epididymides and lower spermatic cords.",
    ["scrotal sac"],
    ["testis", "epididymis", "spermatic cord"],
)
add(
    "fine",
    "Penis",
    "midline",
    "mixed",
    "The male external genital organ, made of the paired corpora cavernosa and the corpus "
    "spongiosum around the penile urethra, from its root in the perineum to the glans.",
    related=["glans penis", "corpus cavernosum", "penile shaft"],
    xref="UBERON:0000989",
)
add(
    "fine",
    "Uterus",
    "midline",
    "hollow_organ",
    "The muscular female organ between bladder and rectum, comprising fundus, body and cervix, "
    "whose endometrial FDG uptake varies with the menstrual cycle.",
    ["womb"],
    ["endometrium", "myometrium", "uterine cervix"],
    xref="UBERON:0000995",
)
sided(
    "fine",
    "{S} uterine appendage",
    "mixed",
    "The {s} uterine adnexa: the {s} ovary, the {s} fallopian tube and the adjacent broad "
    "ligament tissue beside the uterus.",
    ["{s} adnexa", "{s} adnexal region"],
    ["{s} ovary", "{s} fallopian tube"],
    pref=0,
)
add(
    "coarse",
    "Urethra",
    "midline",
    "hollow_organ",
    "The coarse reporting group for the lower urogenital passages, grouping the urethra with "
    "the vagina.",
)
add(
    "fine",
    "Urethra",
    "midline",
    "hollow_organ",
    "The channel from the bladder neck to the external meatus, short in women, and in men "
    "running through the prostate, the pelvic floor and the penis.",
    related=["prostatic urethra", "penile urethra", "bulbar urethra"],
)
add(
    "fine",
    "Vagina",
    "midline",
    "hollow_organ",
    "The muscular female canal from the uterine cervix to the vulva, lying behind the bladder "
    "and urethra and in front of the rectum.",
    ["vaginal canal"],
    ["vaginal vault", "vaginal cuff"],
    xref="UBERON:0000996",
)
sided(
    "coarse",
    "{S} inguinal region",
    "lymph_node_station",
    "The coarse reporting location for the {s} groin, grouping the {s} inguinal and femoral "
    "lymph nodes with the surrounding groin soft tissue.",
)
sided(
    "fine",
    "{S} inguinal region",
    "lymph_node_station",
    "The {s} groin at the junction of abdomen and thigh, along the {s} inguinal ligament and "
    "femoral vessels, chiefly its superficial and deep inguinal lymph nodes.",
    ["{s} groin", "{s} inguinal lymph nodes", "{s} inguinofemoral region"],
    ["{s} femoral lymph nodes", "{s} inguinal canal"],
)

# ---------------------------------------------------------------------------
# Axial skeleton: vertebrae
# ---------------------------------------------------------------------------
ORD = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
]
NTH = ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "11th", "12th"]
REGION_WORD = {"C": "cervical", "T": "thoracic", "L": "lumbar"}

VERTEBRA_DEF = {
    "C1": "The atlas, the first cervical vertebra: a ring of anterior and posterior arches joined "
    "by lateral masses, without a body, carrying the skull at the atlanto-occipital joints.",
    "C2": "The axis, the second cervical vertebra, whose body bears the upward-projecting dens "
    "around which the atlas pivots at the median atlantoaxial joint.",
    "C3": "The third cervical vertebra, a typical cervical vertebra with a small body, uncinate "
    "processes and transverse foramina, lying at about the level of the hyoid bone.",
    "C4": "The fourth cervical vertebra, a typical cervical vertebra at about the level of the "
    "upper thyroid cartilage and the common carotid bifurcation.",
    "C5": "The fifth cervical vertebra, a typical cervical vertebra at about the level of the "
    "thyroid cartilage and glottis; the C5 to C6 segment is the commonest site of "
    "spondylosis.",
    "C6": "The sixth cervical vertebra, level with the cricoid cartilage where the larynx becomes "
    "the trachea and the pharynx the esophagus; its transverse process bears the carotid "
    "tubercle.",
    "C7": "The seventh cervical vertebra (vertebra prominens) at the cervicothoracic junction, "
    "with a long non-bifid spinous process; its transverse foramina usually carry only "
    "small veins.",
    "T1": "The first thoracic vertebra at the cervicothoracic junction, carrying a full facet for "
    "the head of the first rib and a half facet for the second rib.",
    "T2": "The second thoracic vertebra, a typical thoracic vertebra articulating with the second "
    "and third rib heads, at about the level of the suprasternal notch.",
    "T3": "The third thoracic vertebra, articulating with the third and fourth rib heads, at "
    "about the level of the root of the scapular spine.",
    "T4": "The fourth thoracic vertebra, articulating with the fourth and fifth rib heads; the "
    "sternal angle, the end of the aortic arch and the carina lie near the T4 to T5 disc.",
    "T5": "The fifth thoracic vertebra, a mid-thoracic vertebra with a heart-shaped body "
    "articulating with the fifth and sixth rib heads, just below the level of the carina.",
    "T6": "The sixth thoracic vertebra, a mid-thoracic vertebra articulating with the sixth and "
    "seventh rib heads, lying behind the left atrium and beside the descending aorta.",
    "T7": "The seventh thoracic vertebra, articulating with the seventh and eighth rib heads, at "
    "about the level of the inferior angle of the scapula with the arms at the sides.",
    "T8": "The eighth thoracic vertebra, articulating with the eighth and ninth rib heads; the "
    "inferior vena cava passes through the diaphragm at about this level.",
    "T9": "The ninth thoracic vertebra, articulating with the ninth rib head and variably the "
    "tenth, at about the level of the xiphisternal joint.",
    "T10": "The tenth thoracic vertebra, usually carrying a single full facet for the tenth rib; "
    "the esophagus passes through the diaphragmatic hiatus at about this level.",
    "T11": "The eleventh thoracic vertebra, with a single full facet for the eleventh rib and "
    "short transverse processes without rib facets, already showing lumbar features.",
    "T12": "The twelfth thoracic vertebra at the thoracolumbar junction, carrying the twelfth "
    "rib; the aorta leaves the chest at this level, and compression fractures are common "
    "here.",
    "L1": "The first lumbar vertebra, just below the thoracolumbar junction at about the "
    "transpyloric plane; the conus medullaris usually ends at L1 to L2 and both "
    "diaphragmatic crura arise here.",
    "L2": "The second lumbar vertebra, with a large kidney-shaped body at about the level of "
    "the renal hila, still giving origin to the diaphragmatic crura in front.",
    "L3": "The third lumbar vertebra, usually with the longest lumbar transverse processes, "
    "lying behind the third part of the duodenum near the level of the umbilicus.",
    "L4": "The fourth lumbar vertebra, at about the level of the iliac crests, where the "
    "abdominal aorta divides into the common iliac arteries.",
    "L5": "The fifth lumbar vertebra, the largest and most wedge-shaped lumbar vertebra with "
    "thick transverse processes, normally articulating with the sacrum at the lumbosacral "
    "junction.",
    "L6": "A lumbosacral transitional vertebra present in some people: a sixth lumbar-type "
    "segment between L5 and the sacrum, from lumbarization of S1 or an extra lumbar "
    "segment.",
}
SPINOUS_DEF = {
    "C1": "The posterior tubercle of the atlas, the small midline prominence on the posterior "
    "arch of C1 that takes the place of a spinous process.",
    "C2": "The spinous process of the axis, large, broad and bifid, the first bony point "
    "palpable below the occiput and an anchor for the suboccipital muscles.",
    "C6": "The spinous process of the sixth cervical vertebra, longer than those above and "
    "bifid or single, lying just above the vertebra prominens.",
    "C7": "The long non-bifid spinous process of the seventh cervical vertebra, the prominent "
    "palpable bump at the base of the back of the neck.",
    "T1": "The spinous process of the first thoracic vertebra, long and nearly horizontal, "
    "palpable just below the vertebra prominens at the base of the neck.",
    "T11": "The spinous process of the eleventh thoracic vertebra, shorter and more horizontal "
    "than the mid-thoracic processes, in transition toward the lumbar shape.",
    "T12": "The spinous process of the twelfth thoracic vertebra, short, broad and nearly "
    "horizontal like a lumbar process, at the thoracolumbar junction.",
    "L4": "The broad horizontal spinous process of the fourth lumbar vertebra, lying at about "
    "the line joining the tops of the iliac crests.",
    "L5": "The spinous process of the fifth lumbar vertebra, the smallest of the lumbar "
    "spinous processes, lying just above the median sacral crest.",
    "L6": "The spinous process of the transitional sixth lumbar vertebra, often small and "
    "sometimes incompletely fused in the midline, lying just above the sacrum.",
}


def vertebra_codes():
    return (
        [f"C{i}" for i in range(1, 8)]
        + [f"T{i}" for i in range(1, 13)]
        + [f"L{i}" for i in range(1, 7)]
    )


VERTEBRAE = vertebra_codes()


def spinous_def(code):
    if code in SPINOUS_DEF:
        return SPINOUS_DEF[code]
    reg, n = code[0], int(code[1:])
    o = ORD[n - 1]
    if reg == "C":
        return (
            f"The short bifid spinous process of the {o} cervical vertebra, projecting "
            f"backward in the midline from its laminae into the nuchal ligament."
        )
    if reg == "T":
        return (
            f"The long, slender, downward-sloping spinous process of the {o} thoracic "
            f"vertebra, overlapping the process below, its tip roughly level with the "
            f"body of T{n + 1}."
        )
    return (
        f"The broad, thick, horizontal hatchet-shaped spinous process of the {o} lumbar "
        f"vertebra, projecting straight back between the lumbar paraspinal muscles."
    )


def near_def(code):
    reg, n = code[0], int(code[1:])
    if code == "L6":
        name = "transitional sixth lumbar vertebra"
    else:
        name = f"{ORD[n - 1]} {REGION_WORD[reg]} vertebra"
    if reg == "C":
        zone = "the prevertebral space, the deep paraspinal muscle margins and the epidural space"
    elif reg == "T":
        zone = (
            "the paravertebral gutters beside the rib heads, the prevertebral posterior "
            "mediastinum and the epidural space"
        )
    else:
        zone = "the prevertebral retroperitoneum, the psoas margins and the epidural space"
    return (
        f"The soft tissue immediately around the {name} ({zone}), for lesions abutting "
        f"{code} but lying outside the bone."
    )


for code in VERTEBRAE:
    reg, n = code[0], int(code[1:])
    word = REGION_WORD[reg]
    if code == "L6":
        grp = "the transitional sixth lumbar level"
    else:
        grp = f"the {ORD[n - 1]} {word} level"
    add(
        "coarse",
        f"Vertebra {code}",
        "midline",
        "bone",
        f"The coarse reporting group for {grp} of the spine, grouping vertebra {code}, its "
        f"spinous process and the perivertebral soft tissue around it.",
    )
    ex = [f"{ORD[n - 1]} {word} vertebra", code]
    if code != "C1":
        ex.append(f"{code} vertebral body")
    rel = []
    if code == "C1":
        ex.insert(0, "atlas")
        rel = ["anterior arch of the atlas", "lateral mass of the atlas"]
    elif code == "C2":
        ex.insert(1, "axis")
        rel = ["dens", "odontoid process"]
    elif code == "C7":
        rel = ["vertebra prominens"]
    elif code == "L6":
        ex = ["sixth lumbar vertebra", "L6", "L6 vertebral body"]
        rel = ["lumbosacral transitional vertebra", "lumbarized S1", "transitional vertebra"]
    pref = ex[1] if code in ("C1",) else ex[0]
    if code == "C2":
        pref = ex[0]
    add("fine", f"Vertebra {code}", "midline", "bone", VERTEBRA_DEF[code], ex, rel, pref=pref)
    if code == "C1":
        sp_ex = ["posterior tubercle of the atlas", "C1 posterior tubercle"]
        sp_rel = ["C1 spinous process"]
    else:
        sp_ex = [f"{code} spinous process", f"spinous process of {code}"]
        sp_rel = []
    add(
        "fine",
        f"Spinous process of vertebra {code}",
        "midline",
        "bone",
        spinous_def(code),
        sp_ex,
        sp_rel,
        pref=sp_ex[0] if code == "C1" else "",
    )
    add(
        "fine",
        f"Near vertebra {code}",
        "midline",
        "space",
        near_def(code),
        [f"soft tissue adjacent to {code}", f"{code} perivertebral soft tissue"],
        [f"{code} paravertebral region", f"{code} epidural space"],
        pref=0,
    )

# ---------------------------------------------------------------------------
# Axial skeleton: sternum, ribs, hip bones, sacrum and coccyx
# ---------------------------------------------------------------------------
add(
    "coarse",
    "Sternum",
    "midline",
    "bone",
    "The coarse reporting group for the sternum, grouping the breastbone itself with the soft "
    "tissue immediately around it.",
)
add(
    "fine",
    "Sternum",
    "midline",
    "bone",
    "The breastbone in the midline of the anterior chest wall, made of manubrium, body and "
    "xiphoid process, articulating with both clavicles and the upper seven costal cartilages.",
    ["breastbone"],
    ["manubrium", "sternal body", "xiphoid process", "sternal angle"],
    xref="UBERON:0000975",
)
add(
    "fine",
    "Near sternum",
    "midline",
    "space",
    "The soft tissue immediately around the sternum (retrosternal fat, parasternal tissue and "
    "presternal soft tissue), for lesions abutting the breastbone but lying outside it.",
    ["peristernal soft tissue", "soft tissue adjacent to the sternum"],
    ["retrosternal space", "presternal soft tissue"],
    pref=0,
)

RIB_DEF = {
    1: "The {s} first rib, the shortest, flattest and most curved rib, passing beneath the {s} "
    "clavicle from T1 to the manubrium and grooved by the subclavian vessels.",
    2: "The {s} second rib, whose costal cartilage meets the sternum at the sternal angle, the "
    "anterior landmark for counting ribs; behind, it articulates with T1 and T2.",
    3: "The {s} third rib, a typical true rib articulating with the T2 and T3 vertebrae and "
    "joined to the sternal body in front by its own costal cartilage.",
    4: "The {s} fourth rib, a typical true rib articulating with T3 and T4, whose anterior end "
    "lies at about the level of the male nipple.",
    5: "The {s} fifth rib, a typical true rib articulating with T4 and T5, whose costal "
    "cartilage joins the lower sternal body above the fifth intercostal space.",
    6: "The {s} sixth rib, a true rib articulating with T5 and T6, whose costal cartilage "
    "reaches the sternum near the xiphisternal junction beneath the inframammary fold.",
    7: "The {s} seventh rib, the last true rib and one of the longest, articulating with T6 "
    "and T7 and joined to the sternum by the lowest direct costal cartilage.",
    8: "The {s} eighth rib, the first false rib, articulating with T7 and T8, whose cartilage "
    "joins that of the seventh rib to help form the {s} costal margin.",
    9: {
        "left": "The left ninth rib, a false rib articulating with T8 and T9, whose cartilage "
        "joins the costal margin; laterally it overlies the spleen.",
        "right": "The right ninth rib, a false rib articulating with T8 and T9, whose cartilage "
        "joins the costal margin; laterally it overlies the liver.",
    },
    10: "The {s} tenth rib, the lowest false rib, usually articulating only with T10, its "
    "cartilage forming the lowest part of the {s} costal margin.",
    11: "The {s} eleventh rib, a floating rib articulating only with T11, whose short free "
    "cartilaginous tip ends in the lateral abdominal wall muscles.",
    12: "The {s} twelfth rib, the shortest floating rib and variable in length, articulating "
    "with T12 and crossing behind the upper pole of the {s} kidney.",
}
for s in SIDES:
    c = "L" if s == "left" else "R"
    for n in range(1, 13):
        label = f"Rib {c}{n}"
        add(
            "coarse",
            label,
            s,
            "bone",
            f"The coarse reporting location for the {s} {ORD[n - 1]} rib, holding that rib with "
            f"its costal cartilage, from costovertebral head to anterior end, as one fine "
            f"location.",
        )
        add(
            "fine",
            label,
            s,
            "bone",
            _fmt(RIB_DEF[n], s),
            [f"{s} {ORD[n - 1]} rib", f"{s} {NTH[n - 1]} rib", f"{s} rib {n}"],
            pref=0,
        )

sided(
    "coarse",
    "{S} hip bone",
    "bone",
    "The coarse reporting group for the {s} hip (innominate) bone, grouping the {s} ilium, "
    "ischium and pubis, their surrounding soft tissue, and the {s} sacroiliac and hip joints.",
    ["{s} innominate bone", "{s} os coxae"],
    ["{s} hemipelvis"],
)
sided(
    "fine",
    "{S} ischium",
    "bone",
    "The {s} ischium, the posteroinferior part of the {s} hip bone, forming the back of the "
    "acetabulum, the ischial tuberosity on which one sits, and the ischial ramus.",
    ["{s} ischial bone"],
    ["{s} ischial tuberosity", "{s} ischial spine"],
)
sided(
    "fine",
    "Near {s} ischium",
    "space",
    "The soft tissue immediately around the {s} ischium, such as the hamstring origin at the "
    "ischial tuberosity, the obturator internus and the lateral margin of the ischioanal fossa.",
    ["soft tissue adjacent to the {s} ischium"],
    ["{s} ischioanal fossa"],
    pref=0,
)
sided(
    "fine",
    "{S} pubis",
    "bone",
    "The {s} pubic bone, the anterior part of the {s} hip bone, whose body meets its partner "
    "at the pubic symphysis and whose rami frame the obturator foramen.",
    ["{s} pubic bone", "{s} os pubis"],
    ["{s} superior pubic ramus", "{s} inferior pubic ramus"],
)
sided(
    "fine",
    "Near {s} pubis",
    "space",
    "The soft tissue immediately around the {s} pubic bone, including the adductor and rectus "
    "abdominis attachments, the edge of the prevesical space and the obturator region.",
    ["soft tissue adjacent to the {s} pubis"],
    ["{s} obturator region"],
    pref=0,
)
sided(
    "fine",
    "{S} ilium",
    "bone",
    "The {s} ilium, the broad wing-shaped upper part of the {s} hip bone, from the iliac crest "
    "down to the upper acetabulum and forward to the anterior superior iliac spine.",
    ["{s} iliac bone", "{s} iliac wing"],
    ["{s} iliac crest", "{s} iliac fossa"],
)
sided(
    "fine",
    "Near {s} ilium",
    "space",
    "The soft tissue immediately around the {s} ilium, such as the iliacus and gluteal muscle "
    "attachments on its inner and outer surfaces and the tissue along the iliac crest.",
    ["soft tissue adjacent to the {s} ilium"],
    ["{s} iliacus muscle"],
    pref=0,
)
sided(
    "fine",
    "{S} sacroiliac joint",
    "joint",
    "The {s} sacroiliac joint, the strong, nearly immobile synovial and ligamentous joint "
    "between the {s} auricular surfaces of the sacrum and the ilium.",
    ["{s} SI joint", "{s} sacroiliac articulation"],
)
sided(
    "fine",
    "{S} hip joint",
    "joint",
    "The {s} hip joint, the ball-and-socket joint between the {s} femoral head and the "
    "acetabulum, with its capsule, labrum and synovium.",
    ["{s} coxofemoral joint", "{s} acetabulofemoral joint"],
    ["{s} acetabulum", "{s} femoral head"],
)
add(
    "coarse",
    "Sacrococcygeal",
    "midline",
    "bone",
    "The coarse reporting group for the lowest spine, grouping the sacrum, the coccyx and the "
    "soft tissue immediately around the coccyx.",
    ["sacrococcygeal region"],
    ["sacrococcygeal spine"],
)
add(
    "fine",
    "Sacrum",
    "midline",
    "bone",
    "The triangular bone of five fused sacral vertebrae wedged between the hip bones at the "
    "sacroiliac joints, articulating with the last lumbar vertebra above and the coccyx below.",
    ["sacral bone", "os sacrum"],
    ["sacral ala", "S1 vertebra", "sacral foramina"],
)
add(
    "fine",
    "Coccyx",
    "midline",
    "bone",
    "The tailbone, three to five small fused rudimentary vertebrae articulating with the apex "
    "of the sacrum at the lower end of the spine.",
    ["tailbone", "coccygeal bone"],
)
add(
    "fine",
    "Near coccyx",
    "midline",
    "space",
    "The soft tissue immediately around the coccyx: the precoccygeal part of the presacral "
    "space in front, the anococcygeal ligament below and the natal cleft tissue behind.",
    ["pericoccygeal soft tissue", "soft tissue adjacent to the coccyx"],
    ["precoccygeal space", "anococcygeal region"],
    pref=0,
)

# ---------------------------------------------------------------------------
# Upper limb
# ---------------------------------------------------------------------------
sided(
    "coarse",
    "{S} shoulder",
    "mixed",
    "The coarse reporting group for the {s} shoulder girdle, grouping the {s} scapula, "
    "shoulder joint, shoulder muscles, the planes between them and the subcutaneous tissue.",
    related=["{s} shoulder region"],
)
sided(
    "fine",
    "{S} scapula",
    "bone",
    "The {s} shoulder blade, the flat triangular bone over the posterior second to seventh "
    "ribs, with its spine, acromion, coracoid process and glenoid cavity.",
    ["{s} shoulder blade", "{s} scapular bone"],
    ["{s} acromion", "{s} glenoid", "{s} coracoid process"],
)
sided(
    "fine",
    "{S} shoulder muscle",
    "muscle",
    "The muscles around the {s} shoulder: deltoid, teres major and the rotator cuff "
    "(supraspinatus, infraspinatus, teres minor and subscapularis).",
    ["{s} shoulder musculature", "{s} shoulder girdle muscles"],
    ["{s} deltoid muscle", "{s} rotator cuff"],
    pref=0,
)
sided(
    "fine",
    "Between {s} shoulder muscles",
    "space",
    "The fat planes and connective tissue between the {s} shoulder muscles, such as the "
    "subdeltoid plane and the spaces around the rotator cuff, including the quadrilateral "
    "space.",
    ["{s} shoulder intermuscular space"],
    ["{s} subdeltoid space", "{s} quadrilateral space"],
    pref=0,
)
sided(
    "fine",
    "{S} shoulder subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat over the {s} shoulder between the skin and the fascia of the "
    "deltoid and upper trapezius.",
    ["{s} shoulder subcutaneous fat"],
)
sided(
    "fine",
    "{S} shoulder joint",
    "joint",
    "The {s} glenohumeral joint between the {s} humeral head and the glenoid cavity of the "
    "scapula, with its capsule, labrum and synovium.",
    ["{s} glenohumeral joint"],
    ["{s} glenohumeral capsule"],
    pref=0,
)
sided(
    "coarse",
    "{S} hand",
    "mixed",
    "The coarse reporting location for the {s} hand, grouping all {s} wrist and hand "
    "structures beyond the forearm bones as one limb location.",
)
sided(
    "fine",
    "{S} hand",
    "mixed",
    "The {s} hand from the wrist to the fingertips: carpal, metacarpal and phalangeal bones "
    "with their joints, tendons, small muscles and soft tissue.",
    related=["{s} wrist", "{s} fingers", "{s} carpus"],
)
sided(
    "coarse",
    "{S} forearm",
    "mixed",
    "The coarse reporting group for the {s} forearm between elbow and wrist, grouping the "
    "radius, ulna, forearm muscles, the planes between them and the subcutaneous tissue.",
)
sided(
    "fine",
    "{S} forearm muscle",
    "muscle",
    "The flexor and extensor muscles of the {s} forearm, arranged around the radius, ulna and "
    "interosseous membrane between the elbow and the wrist.",
    ["{s} forearm musculature"],
    ["{s} forearm flexors", "{s} forearm extensors"],
    pref=0,
)
sided(
    "fine",
    "Between {s} forearm muscles",
    "space",
    "The fat planes and connective tissue between the {s} forearm muscle groups, including "
    "the neurovascular planes of the radial and ulnar vessels.",
    ["{s} forearm intermuscular space"],
    pref=0,
)
sided(
    "fine",
    "{S} forearm subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} forearm between the skin and the forearm fascia, "
    "containing the superficial veins often used for tracer injection.",
    ["{s} forearm subcutaneous fat"],
    ["{s} antecubital injection site"],
)
sided(
    "fine",
    "{S} ulna",
    "bone",
    "The {s} ulna, the medial forearm bone on the little-finger side, forming the olecranon "
    "at the elbow and the ulnar head and styloid at the wrist.",
    ["{s} ulnar bone"],
    ["{s} olecranon"],
)
sided(
    "fine",
    "{S} radius",
    "bone",
    "The {s} radius, the lateral forearm bone on the thumb side, with its head at the elbow "
    "and its broad distal end forming most of the wrist joint.",
    ["{s} radial bone"],
    ["{s} distal radius"],
)
sided(
    "coarse",
    "{S} elbow",
    "mixed",
    "The coarse reporting group for the {s} elbow, grouping the {s} elbow joint with the "
    "epitrochlear nodal region just above its medial side.",
)
sided(
    "fine",
    "{S} epitrochlear region",
    "lymph_node_station",
    "The medial side of the {s} distal upper arm just above the medial epicondyle "
    "(epitrochlea) of the humerus, holding the epitrochlear lymph nodes beside the basilic vein.",
    ["{s} epitrochlear lymph nodes", "{s} supratrochlear lymph nodes", "{s} cubital lymph nodes"],
    ["{s} medial epicondyle region"],
    pref=0,
)
sided(
    "fine",
    "{S} elbow joint",
    "joint",
    "The {s} elbow joint, the hinge and pivot joint linking the distal humerus with the "
    "proximal radius and ulna, with its capsule and synovium.",
    ["{s} elbow articulation"],
    ["{s} humeroulnar joint", "{s} radiocapitellar joint"],
)
sided(
    "coarse",
    "{S} upper arm",
    "mixed",
    "The coarse reporting group for the {s} upper arm between shoulder and elbow, grouping the "
    "humerus, the arm muscles, the planes between them and the subcutaneous tissue.",
)
sided(
    "fine",
    "{S} upper arm muscle",
    "muscle",
    "The muscles of the {s} upper arm: biceps brachii, brachialis and coracobrachialis in "
    "front of the humerus and triceps brachii behind it.",
    ["{s} upper arm musculature"],
    ["{s} biceps muscle", "{s} triceps muscle"],
    pref=0,
)
sided(
    "fine",
    "Between {s} upper arm muscles",
    "space",
    "The fat planes and connective tissue between the {s} upper arm muscles, including the "
    "medial neurovascular bundle of the brachial artery, veins and nerves.",
    ["{s} upper arm intermuscular space"],
    pref=0,
)
sided(
    "fine",
    "{S} upper arm subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} upper arm between the skin and the brachial fascia, "
    "from the shoulder down to the elbow.",
    ["{s} upper arm subcutaneous fat"],
)
sided(
    "fine",
    "{S} humerus",
    "bone",
    "The {s} humerus, the long bone of the upper arm, from the humeral head at the shoulder "
    "joint to the condyles and epicondyles at the elbow.",
    ["{s} humeral bone"],
    ["{s} humeral head", "{s} humeral shaft"],
)

# ---------------------------------------------------------------------------
# Lower limb
# ---------------------------------------------------------------------------
sided(
    "coarse",
    "{S} buttock",
    "mixed",
    "The coarse reporting group for the {s} gluteal region, grouping the {s} gluteal muscles, "
    "the planes between them and the overlying subcutaneous fat.",
    ["{s} gluteal region"],
)
sided(
    "fine",
    "{S} buttock muscle",
    "muscle",
    "The {s} gluteal muscles (gluteus maximus, medius and minimus) with the deep external "
    "rotators such as piriformis, behind and lateral to the {s} hip bone.",
    ["{s} gluteal muscles", "{s} gluteal musculature"],
    ["{s} gluteus maximus", "{s} piriformis muscle"],
    pref=0,
)
sided(
    "fine",
    "Between {s} buttock muscles",
    "space",
    "The fat planes between the {s} gluteal muscles, including the tissue around the sciatic "
    "nerve as it leaves the pelvis above and below piriformis.",
    ["{s} gluteal intermuscular space"],
    ["{s} greater sciatic foramen"],
    pref=0,
)
sided(
    "fine",
    "{S} buttock subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} buttock between the skin and the gluteus maximus fascia, "
    "a frequent site of injection-related uptake.",
    ["{s} gluteal subcutaneous fat", "{s} buttock subcutaneous fat"],
)
sided(
    "coarse",
    "{S} thigh",
    "mixed",
    "The coarse reporting group for the {s} thigh between hip and knee, grouping the femur, "
    "the periosseous tissue, the thigh muscles, the planes between them and the subcutaneous "
    "fat.",
)
sided(
    "fine",
    "{S} thigh muscle",
    "muscle",
    "The muscles of the {s} thigh: the quadriceps in front, the adductors medially and the "
    "hamstrings behind, surrounding the {s} femur.",
    ["{s} thigh musculature"],
    ["{s} quadriceps muscle", "{s} adductor muscles", "{s} hamstring muscles"],
    pref=0,
)
sided(
    "fine",
    "Between {s} thigh muscles",
    "space",
    "The fat planes and connective tissue between the {s} thigh muscle compartments, "
    "including the neurovascular planes of the femoral and sciatic bundles.",
    ["{s} thigh intermuscular space"],
    pref=0,
)
sided(
    "fine",
    "{S} thigh subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} thigh between the skin and the fascia lata, containing "
    "the great saphenous vein medially.",
    ["{s} thigh subcutaneous fat"],
)
sided(
    "fine",
    "{S} femur",
    "bone",
    "The {s} femur, the thigh bone, from the femoral head, neck and trochanters at the hip "
    "down to the condyles at the knee.",
    ["{s} thigh bone", "{s} femoral bone"],
    ["{s} femoral neck", "{s} femoral shaft"],
)
sided(
    "fine",
    "Near {s} femur",
    "space",
    "The soft tissue immediately around the {s} femur, abutting its periosteum, for lesions "
    "lying next to the bone but outside it.",
    ["soft tissue adjacent to the {s} femur", "{s} perifemoral soft tissue"],
    pref=0,
)
sided(
    "coarse",
    "{S} knee",
    "mixed",
    "The coarse reporting group for the {s} knee, grouping the {s} patella, the knee joint "
    "and the popliteal fossa.",
    related=["{s} knee region"],
)
sided(
    "fine",
    "{S} patella",
    "bone",
    "The {s} kneecap, the sesamoid bone within the quadriceps tendon in front of the distal "
    "{s} femur, forming the patellofemoral joint.",
    ["{s} kneecap", "{s} patellar bone"],
)
sided(
    "fine",
    "{S} popliteal fossa",
    "space",
    "The diamond-shaped space behind the {s} knee, bounded by the hamstring tendons above and "
    "the gastrocnemius heads below, holding the popliteal vessels, nerves and lymph nodes.",
    ["{s} popliteal space", "{s} popliteal region"],
    ["{s} popliteal lymph nodes"],
)
sided(
    "fine",
    "{S} knee joint",
    "joint",
    "The {s} knee joint linking femur, tibia and patella, with its menisci, cruciate "
    "ligaments, capsule and synovium.",
    related=["{s} tibiofemoral joint", "{s} patellofemoral joint", "{s} knee synovium"],
)
sided(
    "coarse",
    "{S} lower leg",
    "mixed",
    "The coarse reporting group for the {s} lower leg between knee and ankle, grouping the "
    "tibia, fibula, calf muscles, the planes between them and the subcutaneous tissue.",
    related=["{s} crural region"],
)
sided(
    "fine",
    "{S} calf muscle",
    "muscle",
    "The muscles of the {s} lower leg, chiefly the gastrocnemius and soleus of the calf, with "
    "the anterior, lateral and deep posterior compartment muscles.",
    ["{s} calf musculature", "{s} lower leg musculature"],
    ["{s} gastrocnemius muscle", "{s} soleus muscle"],
    pref=0,
)
sided(
    "fine",
    "Between {s} calf muscles",
    "space",
    "The fat planes and connective tissue between the muscle compartments of the {s} lower "
    "leg, including the neurovascular planes of the tibial and peroneal vessels.",
    ["{s} calf intermuscular space"],
    pref=0,
)
sided(
    "fine",
    "{S} calf subcutaneous tissue",
    "subcutaneous_fat",
    "The subcutaneous fat of the {s} lower leg between the skin and the crural fascia, "
    "containing the great and small saphenous veins.",
    ["{s} calf subcutaneous fat", "{s} lower leg subcutaneous tissue"],
)
sided(
    "fine",
    "{S} fibula",
    "bone",
    "The {s} fibula, the slender lateral bone of the lower leg, from its head below the "
    "lateral tibial condyle down to the lateral malleolus at the ankle.",
    ["{s} fibular bone"],
    ["{s} fibular head", "{s} lateral malleolus"],
)
sided(
    "fine",
    "{S} tibia",
    "bone",
    "The {s} tibia, the shin bone and main weight-bearing bone of the lower leg, from the "
    "tibial plateau at the knee down to the medial malleolus at the ankle.",
    ["{s} shin bone", "{s} tibial bone"],
    ["{s} tibial plateau", "{s} medial malleolus"],
)
sided(
    "coarse",
    "{S} foot",
    "mixed",
    "The coarse reporting location for the {s} foot, grouping all {s} ankle and foot "
    "structures below the leg bones as one limb location.",
)
sided(
    "fine",
    "{S} foot",
    "mixed",
    "The {s} foot from the ankle down: tarsal, metatarsal and phalangeal bones with their "
    "joints, tendons, plantar muscles and soft tissue.",
    related=["{s} ankle", "{s} toes", "{s} tarsus"],
)

# ---------------------------------------------------------------------------
# Relations
# ---------------------------------------------------------------------------
RELATIONS: list[tuple[str, str, str, str, str]] = []


def rel(subj, relation, obj, slevel="fine", olevel="fine"):
    RELATIONS.append((slevel, subj, relation, olevel, obj))


def adj(a, b):
    rel(a, "adjacent_to", b)


def sadj(a, b):
    """Adjacency between the left-side pair and between the right-side pair."""
    for s in SIDES:
        adj(_fmt(a, s), _fmt(b, s))


def surrounds(a, b, olevel="fine"):
    rel(a, "surrounds", b, olevel=olevel)


# --- surrounds ------------------------------------------------------------
for code in VERTEBRAE:
    surrounds(f"Near vertebra {code}", f"Vertebra {code}")
surrounds("Near sternum", "Sternum")
surrounds("Near coccyx", "Coccyx")
for s in SIDES:
    for bone in ("ischium", "pubis", "ilium", "femur"):
        surrounds(f"Near {s} {bone}", f"{s.capitalize()} {bone}")
    surrounds(f"Near {s} iliac vessel", f"{s.capitalize()} iliac vessel")
    for part, muscle in (
        ("shoulder", "shoulder"),
        ("forearm", "forearm"),
        ("upper arm", "upper arm"),
        ("buttock", "buttock"),
        ("thigh", "thigh"),
        ("calf", "calf"),
    ):
        surrounds(f"Between {s} {part} muscles", f"{s.capitalize()} {muscle} muscle")
    surrounds(f"Renal fascia of {s} kidney", f"{s.capitalize()} kidney")
    surrounds(f"Renal fascia of {s} kidney", f"{s.capitalize()} adrenal gland")
surrounds("Near the stomach", "Stomach")
surrounds("Around the spleen", "Spleen")
surrounds("Around the pancreas", "Pancreas")
surrounds("Around the liver", "Liver", olevel="coarse")
surrounds("Pericardium", "Heart")
surrounds("Skull", "Brain")
surrounds("Peritoneum", "Abdominal cavity")


# --- contralateral_to -----------------------------------------------------
def mirror(label):
    m = re.fullmatch(r"Rib ([LR])(\d+)", label)
    if m:
        return f"Rib {'R' if m.group(1) == 'L' else 'L'}{m.group(2)}"
    m = re.fullmatch(r"Mediastinum (\d)([LR])", label)
    if m:
        return f"Mediastinum {m.group(1)}{'R' if m.group(2) == 'L' else 'L'}"
    out = re.sub(r"\bLeft\b", "Right", label)
    out = re.sub(r"\bleft\b", "right", out)
    return out if out != label else None


for level, label in ORDER:
    if level == "region":
        continue
    lat = TERMS[(level, label)]["laterality"]
    if lat != "left":
        continue
    twin = mirror(label)
    if twin and (level, twin) in TERMS:
        rel(label, "contralateral_to", twin, level, level)

# --- adjacent_to: spine ---------------------------------------------------
chain = [f"Vertebra {c}" for c in VERTEBRAE]
for a, b in itertools.pairwise(chain):
    adj(a, b)
adj("Vertebra L6", "Sacrum")
adj("Vertebra L5", "Sacrum")
adj("Sacrum", "Coccyx")
for code in VERTEBRAE:
    adj(f"Vertebra {code}", f"Spinous process of vertebra {code}")
sp = [f"Spinous process of vertebra {c}" for c in VERTEBRAE]
for a, b in itertools.pairwise(sp):
    adj(a, b)
nv = [f"Near vertebra {c}" for c in VERTEBRAE]
for a, b in itertools.pairwise(nv):
    adj(a, b)

# ribs: neighbours on the same side, costovertebral articulation, chest wall joints
for s in SIDES:
    c = "L" if s == "left" else "R"
    S = s.capitalize()
    for n in range(1, 12):
        adj(f"Rib {c}{n}", f"Rib {c}{n + 1}")
    for n in range(1, 13):
        adj(f"Rib {c}{n}", f"Vertebra T{n}")
        if 2 <= n <= 9:
            adj(f"Rib {c}{n}", f"Vertebra T{n - 1}")
        adj(f"Rib {c}{n}", f"{S} costovertebral joint")
    for n in range(1, 8):
        adj(f"Rib {c}{n}", f"{S} sternocostal joint")
    adj(f"{S} sternocostal joint", "Sternum")
    adj(f"{S} sternoclavicular joint", "Sternum")
    adj(f"{S} sternoclavicular joint", f"{S} clavicle")
    adj(f"{S} sternoclavicular joint", f"Rib {c}1")
    adj(f"{S} clavicle", f"Rib {c}1")
    adj(f"{S} internal mammary region", f"{S} sternocostal joint")
    adj(f"{S} internal mammary region", "Near sternum")
    adj(f"{S} scapula", f"{S} upper back muscle")

# --- adjacent_to: liver and upper abdomen ---------------------------------
for a, b in [
    ("S1", "S2"),
    ("S1", "S4"),
    ("S1", "S7"),
    ("S1", "S8"),
    ("S2", "S3"),
    ("S2", "S4"),
    ("S3", "S4"),
    ("S4", "S5"),
    ("S4", "S8"),
    ("S5", "S6"),
    ("S5", "S8"),
    ("S6", "S7"),
    ("S7", "S8"),
]:
    adj(f"Liver {a}", f"Liver {b}")
for seg in ("S1", "S4", "S5"):
    adj("Porta hepatis", f"Liver {seg}")
adj("Gallbladder", "Liver S4")
adj("Gallbladder", "Liver S5")
adj("Gallbladder", "Porta hepatis")
adj("Gallbladder", "Small intestine")
adj("Hepatic-gastric space", "Stomach")
adj("Hepatic-gastric space", "Liver S1")
adj("Hepatic-gastric space", "Liver S2")
adj("Hepatic-gastric space", "Porta hepatis")
adj("Splenic-gastric space", "Stomach")
adj("Splenic-gastric space", "Spleen")
adj("Splenic-gastric space", "Splenic hilum")
adj("Spleen", "Splenic hilum")
adj("Spleen", "Left kidney")
adj("Spleen", "Stomach")
adj("Splenic hilum", "Pancreas")
adj("Stomach", "Cardia of stomach")
adj("Esophagus", "Cardia of stomach")
adj("Stomach", "Small intestine")
adj("Stomach", "Large intestine")
adj("Stomach", "Pancreas")
adj("Stomach", "Liver S2")
adj("Stomach", "Liver S3")
adj("Pancreas", "Small intestine")
adj("Right kidney", "Liver S6")
adj("Right kidney", "Small intestine")
adj("Right adrenal gland", "Liver S7")
adj("Right adrenal gland", "Right crus of diaphragm")
adj("Left adrenal gland", "Left crus of diaphragm")
adj("Left adrenal gland", "Pancreas")
for s in SIDES:
    S = s.capitalize()
    adj(f"{S} kidney", f"{S} adrenal gland")
    adj(f"{S} kidney", "Ureter")
    adj(f"{S} kidney", f"{S} lumbar muscle")
    adj("Ureter", f"{S} lumbar muscle")
    adj(f"{S} crus of diaphragm", f"{S} diaphragm")
    adj(f"{S} crus of diaphragm", "Abdominal aorta")
    adj(f"{S} iliac vessel", "Abdominal aorta")
    adj(f"{S} lumbar muscle", "Retroperitoneum")
adj("Left crus of diaphragm", "Right crus of diaphragm")
for v in ("L1", "L2"):
    adj("Left crus of diaphragm", f"Vertebra {v}")
for v in ("L1", "L2", "L3"):
    adj("Right crus of diaphragm", f"Vertebra {v}")
adj("Right crus of diaphragm", "Esophagus")
adj("Abdominal aorta", "Thoracic aorta")
for v in ("L1", "L2", "L3", "L4"):
    adj("Abdominal aorta", f"Near vertebra {v}")
adj("Ureter", "Ureter in pelvic cavity")
adj("Retroperitoneum", "Peritoneum")
adj("Small intestine", "Mesentery")
adj("Small intestine", "Large intestine")
adj("Small intestine", "Cecum")
adj("Cecum", "Appendix")
adj("Cecum", "Large intestine")
adj("Cecum", "Right ilium")
adj("Large intestine", "Rectum")
adj("Rectum", "Anal canal")
adj("Mesentery", "Pelvic mesentery")
adj("Pelvic mesentery", "Large intestine")
adj("Peritoneum", "Pelvic peritoneum")
# diaphragm and its neighbours
adj("Right diaphragm", "Liver S7")
adj("Right diaphragm", "Liver S8")
adj("Right diaphragm", "Liver S4")
adj("Left diaphragm", "Liver S2")
adj("Left diaphragm", "Spleen")
adj("Left diaphragm", "Stomach")
adj("Left diaphragm", "Left kidney")

# --- adjacent_to: chest ---------------------------------------------------
for a, b in [
    ("1R", "1L"),
    ("2R", "2L"),
    ("4R", "4L"),
    ("1R", "2R"),
    ("1L", "2L"),
    ("2R", "4R"),
    ("2L", "4L"),
    ("4L", "5"),
    ("5", "6"),
    ("3A", "6"),
    ("3P", "7"),
    ("7", "8"),
    ("8", "9"),
]:
    adj(f"Mediastinum {a}", f"Mediastinum {b}")
adj("Mediastinum 4R", "Right pulmonary hilum")
adj("Mediastinum 4L", "Left pulmonary hilum")
adj("Mediastinum 5", "Left pulmonary hilum")
adj("Mediastinum 7", "Right pulmonary hilum")
adj("Mediastinum 7", "Left pulmonary hilum")
adj("Mediastinum 1R", "Right supraclavicular")
adj("Mediastinum 1L", "Left supraclavicular")
adj("Mediastinum 3A", "Near sternum")
adj("Mediastinum 3A", "Pericardium")
for st in ("1R", "1L", "2R", "2L", "3P", "4R", "4L", "7"):
    adj("Trachea", f"Mediastinum {st}")
for st in ("3P", "7", "8"):
    adj("Esophagus", f"Mediastinum {st}")
for st in ("3A", "4L", "5", "6", "8"):
    adj("Thoracic aorta", f"Mediastinum {st}")
adj("Trachea", "Larynx")
adj("Trachea", "Esophagus")
adj("Trachea", "Isthmus of thyroid")
adj("Trachea", "Thoracic aorta")
adj("Esophagus", "Thoracic aorta")
adj("Esophagus", "Heart")
adj("Heart", "Thoracic aorta")
adj("Pericardium", "Pericardiophrenic region")
adj("Pericardium", "Left diaphragm")
adj("Pericardium", "Right diaphragm")
adj("Pericardium", "Right middle lobe medial segment")
adj("Pericardium", "Left upper lobe lower tongue segment")
adj("Pericardiophrenic region", "Left diaphragm")
adj("Pericardiophrenic region", "Right diaphragm")
adj("Left pulmonary hilum", "Thoracic aorta")
# lung segments within a lobe, and against diaphragm / costophrenic recess
for a, b in [
    ("Left upper lobe apex posterior segment", "Left upper lobe anterior segment"),
    ("Left upper lobe anterior segment", "Left upper lobe upper tongue segment"),
    ("Left upper lobe upper tongue segment", "Left upper lobe lower tongue segment"),
    ("Left lower lobe dorsal segment", "Left lower lobe anterior basal segment"),
    ("Left lower lobe dorsal segment", "Left lower lobe outer basal segment"),
    ("Left lower lobe dorsal segment", "Left lower lobe posterior basal segment"),
    ("Left lower lobe anterior basal segment", "Left lower lobe outer basal segment"),
    ("Left lower lobe outer basal segment", "Left lower lobe posterior basal segment"),
    ("Left lower lobe anterior basal segment", "Left lower lobe posterior basal segment"),
    ("Right upper lobe apex segment", "Right upper lobe posterior segment"),
    ("Right upper lobe apex segment", "Right upper lobe anterior segment"),
    ("Right upper lobe posterior segment", "Right upper lobe anterior segment"),
    ("Right middle lobe lateral segment", "Right middle lobe medial segment"),
    ("Right lower lobe dorsal segment", "Right lower lobe anterior basal segment"),
    ("Right lower lobe dorsal segment", "Right lower lobe outer basal segment"),
    ("Right lower lobe dorsal segment", "Right lower lobe posterior basal segment"),
    ("Right lower lobe inner basal segment", "Right lower lobe anterior basal segment"),
    ("Right lower lobe anterior basal segment", "Right lower lobe outer basal segment"),
    ("Right lower lobe outer basal segment", "Right lower lobe posterior basal segment"),
    ("Right lower lobe inner basal segment", "Right lower lobe posterior basal segment"),
]:
    adj(a, b)
for seg in ("anterior basal", "outer basal", "posterior basal"):
    adj(f"Left lower lobe {seg} segment", "Left diaphragm")
    adj(f"Right lower lobe {seg} segment", "Right diaphragm")
adj("Right lower lobe inner basal segment", "Right diaphragm")
adj("Left upper lobe lower tongue segment", "Left diaphragm")
for s in SIDES:
    S = s.capitalize()
    adj(f"{S} lower lobe outer basal segment", f"{S} costophrenic angle")
    adj(f"{S} lower lobe posterior basal segment", f"{S} costophrenic angle")
    adj(f"{S} costophrenic angle", f"{S} diaphragm")
    adj(f"{S} costophrenic angle", f"{S} chest wall")
# chest wall soft tissue, axilla and breast
sadj("{S} chest muscle", "{S} chest subcutaneous tissue")
sadj("{S} chest muscle", "{S} interpectoral space")
sadj("{S} chest muscle", "Inner side of the {s} pectoralis minor muscle")
sadj("{S} chest muscle", "{S} breast")
sadj("{S} chest muscle", "{S} axilla")
sadj("Inner side of the {s} pectoralis minor muscle", "{S} axilla")
sadj("Inner side of the {s} pectoralis minor muscle", "{S} interpectoral space")
sadj("Inner side of the {s} pectoralis minor muscle", "{S} clavicle")
sadj("{S} chest subcutaneous tissue", "{S} breast")
sadj("{S} axilla", "Deep aspect of {s} latissimus dorsi")
sadj("{S} axilla", "{S} breast")
sadj("Deep aspect of {s} latissimus dorsi", "{S} scapula")
sadj("Deep aspect of {s} latissimus dorsi", "{S} chest wall")
sadj("Deep aspect of {s} latissimus dorsi", "{S} upper back muscle")
sadj("{S} nipple", "{S} mammary gland")
sadj("{S} upper back muscle", "{S} upper back subcutaneous tissue")
sadj("{S} upper back muscle", "{S} lower back muscle")
sadj("{S} upper back subcutaneous tissue", "{S} lower back subcutaneous tissue")
sadj("{S} chest wall", "{S} abdominal wall")
sadj("{S} chest subcutaneous tissue", "{S} abdominal subcutaneous tissue")

# --- adjacent_to: head and neck -------------------------------------------
adj("Mandible", "Skull")
adj("Tongue", "Base of tongue")
adj("Tongue", "Lower alveolar cavity")
adj("Base of tongue", "Oropharynx")
adj("Base of tongue", "Larynx")
adj("Nasopharynx", "Oropharynx")
adj("Oropharynx", "Larynx")
sadj("{S} nasal cavity", "{S} nasal sinus")
sadj("{S} nasal cavity", "Nasopharynx")
sadj("{S} nasal cavity", "Maxilla")
sadj("{S} eye", "{S} nasal sinus")
sadj("{S} nasal sinus", "Upper alveolar cavity")
sadj("{S} ear", "{S} mastoid process")
sadj("{S} ear", "{S} parotid gland")
sadj("{S} parotid gland", "{S} mastoid process")
sadj("{S} parotid gland", "Mandible")
sadj("{S} parotid gland", "{S} parapharyngeal")
sadj("{S} submandibular gland", "Mandible")
sadj("{S} tonsil", "Oropharynx")
sadj("{S} tonsil", "{S} parapharyngeal")
sadj("{S} retropharyngeal", "Nasopharynx")
sadj("{S} retropharyngeal", "Oropharynx")
sadj("{S} retropharyngeal", "{S} parapharyngeal")
sadj("{S} retropharyngeal", "Near vertebra C1")
sadj("{S} retropharyngeal", "Near vertebra C2")
sadj("{S} facial muscle", "{S} facial subcutaneous tissue")
sadj("{S} facial muscle", "Mandible")
sadj("{S} facial muscle", "{S} parotid gland")
sadj("{S} occipital muscle", "{S} occipital subcutaneous tissue")
sadj("{S} occipital muscle", "Skull")
sadj("{S} neck muscle", "{S} neck subcutaneous tissue")
sadj("{S} neck muscle", "{S} clavicle")
sadj("{S} neck muscle", "{S} supraclavicular")
sadj("{S} clavicle", "{S} supraclavicular")
sadj("{S} clavicle", "{S} scapula")
sadj("{S} lobe of thyroid", "Isthmus of thyroid")
sadj("{S} lobe of thyroid", "Trachea")
sadj("{S} lobe of thyroid", "Larynx")

# --- adjacent_to: abdominal wall, back, pelvis ----------------------------
sadj("{S} abdominal wall", "{S} abdominal subcutaneous tissue")
sadj("{S} abdominal wall", "Navel")
sadj("{S} abdominal wall", "{S} inguinal region")
sadj("{S} abdominal wall", "{S} ilium")
sadj("{S} lower back muscle", "{S} lower back subcutaneous tissue")
sadj("{S} lower back muscle", "{S} lumbar muscle")
sadj("{S} lumbar muscle", "{S} iliac vessel")
sadj("{S} iliac vessel", "{S} sacroiliac joint")
sadj("{S} iliac vessel", "Ureter in pelvic cavity")
sadj("Near {s} iliac vessel", "{S} inguinal region")
adj("Bladder", "Prostate gland")
adj("Bladder", "Uterus")
adj("Bladder", "Vagina")
adj("Bladder", "Ureter in pelvic cavity")
adj("Bladder", "Urethra")
adj("Bladder", "Pelvic peritoneum")
adj("Bladder", "Left pubis")
adj("Bladder", "Right pubis")
adj("Prostate gland", "Rectum")
adj("Uterus", "Left uterine appendage")
adj("Uterus", "Right uterine appendage")
adj("Uterus", "Vagina")
adj("Uterus", "Rectum")
adj("Uterus", "Pelvic peritoneum")
adj("Vagina", "Urethra")
adj("Vagina", "Rectum")
adj("Rectum", "Sacrum")
adj("Rectum", "Pelvic peritoneum")
adj("Anal canal", "Near coccyx")
adj("Penis", "Scrotum")
adj("Penis", "Left pubis")
adj("Penis", "Right pubis")
adj("Scrotum", "Left inguinal region")
adj("Scrotum", "Right inguinal region")
adj("Left pubis", "Right pubis")

# --- adjacent_to: hip bones and limbs -------------------------------------
sadj("{S} ilium", "{S} ischium")
sadj("{S} ilium", "{S} pubis")
sadj("{S} ischium", "{S} pubis")
sadj("{S} ilium", "{S} sacroiliac joint")
sadj("{S} sacroiliac joint", "Sacrum")
sadj("{S} hip joint", "{S} ilium")
sadj("{S} hip joint", "{S} ischium")
sadj("{S} hip joint", "{S} pubis")
sadj("{S} hip joint", "{S} femur")
sadj("{S} ilium", "{S} buttock muscle")
sadj("{S} ischium", "{S} thigh muscle")
sadj("{S} inguinal region", "{S} thigh muscle")
sadj("{S} inguinal region", "{S} pubis")
sadj("{S} scapula", "{S} shoulder joint")
sadj("{S} scapula", "{S} shoulder muscle")
sadj("{S} shoulder joint", "{S} humerus")
sadj("{S} shoulder joint", "{S} shoulder muscle")
sadj("{S} shoulder muscle", "{S} shoulder subcutaneous tissue")
sadj("{S} shoulder muscle", "{S} upper arm muscle")
sadj("{S} shoulder subcutaneous tissue", "{S} upper arm subcutaneous tissue")
sadj("{S} humerus", "{S} upper arm muscle")
sadj("{S} humerus", "{S} elbow joint")
sadj("{S} humerus", "{S} epitrochlear region")
sadj("{S} upper arm muscle", "{S} upper arm subcutaneous tissue")
sadj("{S} upper arm muscle", "{S} forearm muscle")
sadj("{S} epitrochlear region", "{S} upper arm subcutaneous tissue")
sadj("{S} epitrochlear region", "{S} elbow joint")
sadj("{S} elbow joint", "{S} ulna")
sadj("{S} elbow joint", "{S} radius")
sadj("{S} ulna", "{S} radius")
sadj("{S} forearm muscle", "{S} forearm subcutaneous tissue")
sadj("{S} forearm muscle", "{S} ulna")
sadj("{S} forearm muscle", "{S} radius")
sadj("{S} hand", "{S} radius")
sadj("{S} hand", "{S} ulna")
sadj("{S} buttock muscle", "{S} buttock subcutaneous tissue")
sadj("{S} buttock muscle", "{S} thigh muscle")
sadj("{S} buttock muscle", "Sacrum")
sadj("{S} buttock muscle", "{S} hip joint")
sadj("{S} buttock subcutaneous tissue", "{S} thigh subcutaneous tissue")
sadj("{S} thigh muscle", "{S} thigh subcutaneous tissue")
sadj("{S} femur", "{S} thigh muscle")
sadj("{S} femur", "{S} knee joint")
sadj("{S} patella", "{S} knee joint")
sadj("{S} patella", "{S} thigh muscle")
sadj("{S} popliteal fossa", "{S} knee joint")
sadj("{S} popliteal fossa", "{S} thigh muscle")
sadj("{S} popliteal fossa", "{S} calf muscle")
sadj("{S} popliteal fossa", "{S} femur")
sadj("{S} tibia", "{S} knee joint")
sadj("{S} tibia", "{S} fibula")
sadj("{S} tibia", "{S} foot")
sadj("{S} tibia", "{S} calf muscle")
sadj("{S} fibula", "{S} foot")
sadj("{S} fibula", "{S} calf muscle")
sadj("{S} calf muscle", "{S} calf subcutaneous tissue")

# ---------------------------------------------------------------------------
# Landmarks
# ---------------------------------------------------------------------------
LANDMARKS = [
    (
        f"Vertebra {c}",
        f"spinal level {c}; vertebral levels give the craniocaudal position of nearby findings",
    )
    for c in VERTEBRAE
    if c != "L6"
]
LANDMARKS += [
    ("Sacrum", "lowest spinal level and posterior wall of the pelvis"),
    ("Sternum", "midline anterior chest landmark; anterior versus retrosternal position"),
    ("Trachea", "midline airway; defines right and left paratracheal positions"),
    ("Mediastinum 7", "subcarinal station; the carina marks the upper-lower mediastinum border"),
    ("Esophagus", "posterior mediastinal midline tube; paraesophageal and retrotracheal positions"),
    ("Heart", "central chest mass; paracardiac, cardiophrenic and pericardial positions"),
    ("Thoracic aorta", "defines para-aortic, subaortic and aortopulmonary window positions"),
    ("Abdominal aorta", "retroperitoneal midline vessel; para-aortic and aortocaval positions"),
    ("Right diaphragm", "boundary between right chest and abdomen; supra- versus subdiaphragmatic"),
    ("Left diaphragm", "boundary between left chest and abdomen; supra- versus subdiaphragmatic"),
    ("Left pulmonary hilum", "left lung root; hilar versus peripheral lung position"),
    ("Right pulmonary hilum", "right lung root; hilar versus peripheral lung position"),
    ("Left clavicle", "boundary between neck and chest on the left; supra- and infraclavicular"),
    ("Right clavicle", "boundary between neck and chest on the right; supra- and infraclavicular"),
    ("Larynx", "midline neck landmark at C3 to C6; upper versus lower neck"),
    ("Porta hepatis", "liver hilum; periportal and hepatoduodenal positions"),
    (
        "Liver S4",
        "left medial liver segment beside the umbilical fissure; divides left and right liver",
    ),
    ("Stomach", "left upper quadrant hollow organ; perigastric and gastrohepatic positions"),
    ("Spleen", "left upper quadrant organ; perisplenic and splenic hilar positions"),
    ("Pancreas", "crosses the upper retroperitoneum at L1 to L2; peripancreatic positions"),
    ("Left kidney", "left retroperitoneal organ; perirenal and para-aortic level reference"),
    ("Right kidney", "right retroperitoneal organ; perirenal and paracaval level reference"),
    ("Navel", "anterior abdominal wall midline at about L3 to L4; periumbilical positions"),
    ("Bladder", "central pelvic organ; perivesical and pelvic side wall positions"),
]


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
def write():
    cols = [
        "level",
        "label",
        "laterality",
        "tissue",
        "definition",
        "exact_synonyms",
        "related_synonyms",
        "preferred_synonym",
        "xrefs",
    ]
    with open(os.path.join(HERE, "terms.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(cols) + "\n")
        for key in ORDER:
            t = TERMS[key]
            f.write(
                "\t".join(
                    [
                        t["level"],
                        t["label"],
                        t["laterality"],
                        t["tissue"],
                        t["definition"],
                        "|".join(t["exact"]),
                        "|".join(t["related"]),
                        t["preferred"],
                        t["xref"],
                    ]
                )
                + "\n"
            )
    with open(os.path.join(HERE, "relations.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("subject_level\tsubject_label\trelation\tobject_level\tobject_label\n")
        for r in RELATIONS:
            f.write("\t".join(r) + "\n")
    with open(os.path.join(HERE, "landmarks.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("level\tlabel\treason\n")
        for label, reason in LANDMARKS:
            f.write(f"fine\t{label}\t{reason}\n")


def order_like_vocabulary():
    """Re-order terms: regions, then coarse and fine in the order of locations.tsv."""
    import csv

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locations.tsv")
    if not os.path.exists(path):
        return
    want = []
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    seen = set()
    for r in rows:
        for key in (("region", r["region"]), ("coarse", r["coarse"]), ("fine", r["location"])):
            if key not in seen:
                seen.add(key)
                want.append(key)
    rest = [k for k in ORDER if k not in seen]
    ORDER[:] = [k for k in want if k in TERMS] + rest


if __name__ == "__main__":
    order_like_vocabulary()
    write()
    print(f"terms: {len(TERMS)}  relations: {len(RELATIONS)}  landmarks: {len(LANDMARKS)}")
