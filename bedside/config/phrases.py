"""Default English wording of the stretch prompt and the bedtime reminder.

Kind and concrete, short enough to follow half-asleep. The advice follows physiotherapists'
guidance for night leg cramps (shared/notes/physiology.md §7; NHS "Leg cramps", nhs.uk):
straighten the leg and pull the toes up (knee straight, ankle dorsiflexed); or stand with the foot
pressed flat; walk around; warmth (or ice rubbed on the muscle). The bedtime routine follows the
nightly calf and hamstring stretches of Hallegraeff et al., J Physiother 2012;58:17 (PubMed
22341378: each stretch held 10 s, three times, both legs; fewer and milder night cramps in adults
over 55), extended with the hip routine physiotherapists suggest for leg cramps (pigeon pose,
clamshells; physiology.md §7) and the sleeping-position advice of the same section (toes not
pointed: loose covers over the feet, a pillow under the calves, or lying on the back).

Fault alerts (``FAULT_*``) say what is wrong with the equipment in plain words and what to do; the
``{sensor}`` placeholder becomes "left calf sensor", "right calf sensor" or "calf sensor".

Every phrase can be replaced in the ``[prompt.texts]`` section of the configuration. This module
imports nothing.
"""

OPENING = "Straighten your leg, and gently pull your toes up toward you."

HOLD = (
    "Good. Keep holding, toes pulled up. Ten more seconds.",
    "Breathe slowly. Keep the knee straight. Ten more seconds.",
    "You are doing well. Hold the stretch a little longer.",
)

ESCALATION = (
    "If it still hurts, stand up with that foot flat on the floor, and press down firmly.",
    "Now walk around slowly for a minute. Moving helps the muscle let go.",
    "Warmth can help too: a warm shower, or a warm towel on the calf."
    " Some people prefer ice, rubbed gently on the muscle.",
)

CLOSING = "The cramp is easing. Let your leg rest, and go back to sleep when you are ready."

REPEAT_SHORT = "Again: straighten your leg, toes toward you."

BEDTIME = "Time for your bedtime stretches. I will count each hold for you."

# The bedtime routine, one instruction per step (said once per leg for the two-sided steps).
ROUTINE_CALF = (
    "Calf stretch. Stand facing a wall, hands on the wall. Step your {leg} foot back,"
    " keep that heel on the floor and the knee straight, and lean in until you feel the stretch"
    " in the calf."
)
ROUTINE_HAMSTRING = (
    "Hamstring stretch. Sit on the edge of the bed with your {leg} leg straight out in front,"
    " heel on the floor, toes up. Keep your back straight and lean forward from the hips."
)
ROUTINE_PIGEON = (
    "Pigeon pose. On the bed or the floor, bring your {leg} knee forward and lay that shin across"
    " in front of you, the other leg stretched out behind. Sink gently into the hip."
)
ROUTINE_CLAMSHELL = (
    "Clamshells. Lie on your side with the {leg} leg on top, knees bent and together."
    " Keeping your feet together, lift the top knee, then lower it slowly, with my count."
)
ROUTINE_SLEEP_POSITION = (
    "Last, for the night: keep your toes from pointing down. Loosen the covers over your feet,"
    " or put a pillow under your calves, or sleep on your back."
)
ROUTINE_HOLD = "Hold."
ROUTINE_RELAX = "And relax."
ROUTINE_OTHER_LEG = "Now the other leg."
ROUTINE_DONE = "That is the routine. Press done when you are ready for bed."
COUNT_WORDS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    "twenty", "twenty-one", "twenty-two", "twenty-three", "twenty-four", "twenty-five",
    "twenty-six", "twenty-seven", "twenty-eight", "twenty-nine", "thirty", "thirty-one",
    "thirty-two", "thirty-three", "thirty-four", "thirty-five", "thirty-six", "thirty-seven",
    "thirty-eight", "thirty-nine", "forty", "forty-one", "forty-two", "forty-three",
    "forty-four", "forty-five", "forty-six", "forty-seven", "forty-eight", "forty-nine", "fifty",
    "fifty-one", "fifty-two", "fifty-three", "fifty-four", "fifty-five", "fifty-six",
    "fifty-seven", "fifty-eight", "fifty-nine", "sixty",
)  # fmt: skip

BEDTIME_THANKS = "Well done. Sleep well."

FAULT_LEAD_OFF = "The {sensor} has lost contact with the skin. Please check the strap and the pads."
FAULT_POOR_CONTACT = "The {sensor} signal is poor. The strap may be loose."
FAULT_BATTERY_LOW = "The {sensor} battery is low. Please charge it tomorrow."
FAULT_LINK_LOST = (
    "The {sensor} has not been heard for a while. Is it switched on, and near the bed?"
)
FAULT_DISK_FULL = "The bedside unit is running out of space. Recordings may stop."

FAULT_UNSUPPORTED_DEVICE = (
    "The {sensor} is a kind of wearable crampwatch cannot read. Check its firmware settings."
)
