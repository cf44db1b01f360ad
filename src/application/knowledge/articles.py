"""What the article use cases share (``create_article``, ``get_article``, ``list_articles``,
``update_article``, ``delete_article``): permission checks and the reads that hide others' articles.

One writes, reads, lists, changes and deletes one's own articles, and reads everyone's published public ones.

Another user's private or draft article does not exist as far as the caller can tell: reading,
changing or deleting it answers ``article_not_found``, never ``forbidden``. Only the author may
change or delete an article, even a public one (others get ``article_not_found`` there too).
"""

from __future__ import annotations

import uuid

from src.application.knowledge.ports import KnowledgeTransaction
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.errors import ArticleNotFound
from src.domain.knowledge.model import Article

MAX_PAGE_SIZE = 100


def require(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise Forbidden(f"This needs the {permission.value} permission")


def require_publisher_of_public(principal: Principal, article: Article) -> None:
    """Public articles (published and visible to everyone) are written only by those who may publish:
    a viewer keeps private notes and drafts, and may take down a public article of theirs but not change it."""
    if article.is_public:
        require(principal, Permission.KNOWLEDGE_PUBLISH)


async def readable_article(tx: KnowledgeTransaction, principal: Principal, article_id: uuid.UUID) -> Article:
    """The article, when ``principal`` may read it; ``ArticleNotFound`` otherwise. A hidden public
    article is read by its author and by moderators only."""
    article = await tx.articles.get(article_id)
    if article is None or not article.is_readable_by(
        principal.user_id, staff=principal.can(Permission.MODERATION_MANAGE)
    ):
        raise ArticleNotFound("There is no article with this id")
    return article


async def own_article(tx: KnowledgeTransaction, principal: Principal, article_id: uuid.UUID) -> Article:
    """The article, when ``principal`` wrote it; ``ArticleNotFound`` otherwise (never ``forbidden``)."""
    article = await tx.articles.get(article_id)
    if article is None or article.author_id != principal.user_id:
        raise ArticleNotFound("You have no article with this id")
    return article
