"""A photo with words on Discord and WhatsApp: the real listener against its fake
stores the picture, the words become the message's text, and the worker will show
the picture to the model as an image (the Telegram story runs end to end through the
real CLIs in ``test_photo_to_model``)."""

from __future__ import annotations

from pathlib import Path

from tests.channels.conftest import incoming
from tests.channels.test_whatsapp import ALICE, listening
from tests.fakes.discord_harness import ListenerKit
from tests.fakes.images import JPEG, png
from tests.fakes.whatsapp_api import WhatsAppFake
from tinyclaw.channels.discord import DiscordChannel
from tinyclaw.core.home import Home
from tinyclaw.worker.prompt import shown_images


async def test_a_discord_image_with_text_keeps_the_text_and_is_shown_as_an_image(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    picture = png(4, 4)
    image = kit.fake.add_attachment("555", "screenshot.png", picture, "image/png")
    kit.fake.push_message(
        channel_id="555", content="why is this red?", author=kit.alice, attachments=[image]
    )
    [message] = await kit.queued()

    assert message.text == "why is this red?"
    [attachment] = message.attachments
    assert (attachment.kind, attachment.mime) == ("photo", "image/png")
    assert shown_images(message) == (Path(attachment.path),)
    assert Path(attachment.path).read_bytes() == picture


async def test_a_whatsapp_image_caption_is_the_text_and_the_image_is_shown(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    media = whatsapp_fake.add_media(JPEG, "image/jpeg")
    async with listening(home, whatsapp_fake) as (_channel, meta):
        await meta.apost(
            meta.media("image", media, "image/jpeg", caption="is this ripe?", wa_id=ALICE)
        )
    [message] = incoming(home)

    assert message.text == "is this ripe?"
    [attachment] = message.attachments
    assert attachment.kind == "photo"
    assert shown_images(message) == (Path(attachment.path),)
    assert Path(attachment.path).read_bytes() == JPEG
