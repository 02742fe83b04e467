"""Default English wording of the stretch prompt and the bedtime reminder.

Kind and concrete, short enough to follow half-asleep. The advice follows physiotherapists'
guidance for night leg cramps (shared/notes/physiology.md §7; NHS "Leg cramps", nhs.uk):
straighten the leg and pull the toes up (knee straight, ankle dorsiflexed); or stand with the foot
pressed flat; walk around; warmth (or ice rubbed on the muscle). The bedtime routine follows the
nightly calf stretch of Hallegraeff et al., J Physiother 2012;58:17 (PubMed 22341378).

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

BEDTIME = (
    "Time for your bedtime calf stretch. Stand facing a wall, step one foot back,"
    " keep that heel on the floor, and lean in until you feel the stretch in the calf."
    " Hold for thirty seconds, then switch legs. Three times on each side."
    " Press done when you have finished."
)

BEDTIME_THANKS = "Well done. Sleep well."
